"""The rollout story's emulated pieces, without an emulator: the refusing host, its event, its classification."""

from __future__ import annotations

import json

import pytest
from service.logic.rollout_text import StepOutput, classify_failure, parse_association_event

from agent_config.builder import build_agent_config
from agent_config.merge_model import Host, MergeError
from demo import rollout_story
from demo.agent_host import agent_output
from infra.agent_rollout import parameter_name

ASSOCIATION = "e87ad4f2-3ba1-5ca2-b4b0-8881f530f5c4"


def refusal() -> str:
    config = build_agent_config(log_group_name="/oomwatch/ec2/syslog", log_mode="oom", log_sources="both")
    host = Host(files={"file_amazon-cloudwatch-agent.json": rollout_story.WIZARD_CONFIG})
    with pytest.raises(MergeError) as refused:
        host.ctl("append-config", parameter_name("OomWatch"), config)
    return agent_output(refused.value)


def test_the_wizard_host_is_refused_in_the_agents_words() -> None:
    text = refusal()
    assert "Under path : /metrics/metrics_collected/ | Error : Different values are specified for mem" in text
    assert text.rstrip().endswith("Failed to merge multiple json config files")


def test_the_story_event_is_a_state_manager_event_and_classifies_as_the_mem_swap_conflict() -> None:
    import datetime as dt

    event = rollout_story._association_event(
        ASSOCIATION, rollout_story.CONFLICTING.instance_id, dt.datetime.now(dt.UTC)
    )
    change = parse_association_event(json.loads(json.dumps(event)))
    assert change is not None and change.status == "Failed" and change.association_id == ASSOCIATION
    failure = classify_failure(change, [StepOutput("configureAgent", "Failed", "", refusal())])
    assert (failure.kind, failure.step) == ("mem_swap_conflict", "configureAgent")
    assert "Delete mem and swap" in failure.fix


def test_the_story_says_what_it_emulates() -> None:
    import inspect

    source = inspect.getsource(rollout_story.run)
    for emulated in ("State Manager", "managed nodes", "merge_model"):
        assert emulated in source
