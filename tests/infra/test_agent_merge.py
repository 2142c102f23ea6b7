"""What a host ends up running: OOMWatch's configuration merged with the host's own, by the agent's rules.

The rules are modelled in :mod:`agent_config.merge_model` from the agent's source (cited there); these
tests drive it through the life of a host: first deploy, a changed ``log_mode``, a host that already has
the agent wizard's standard configuration, a host with its own journald section. Each ends with exactly
the intended configuration, or with the merge failure and a reason a person can act on.
"""

from __future__ import annotations

import copy
import fnmatch
from typing import Any

import pytest

from agent_config.builder import METRIC_DIMENSIONS, LogMode, LogSources, build_agent_config, config_digest
from agent_config.merge_model import Host, MergeError, merge, metric_dimension_sets, ssm_file_name
from infra.agent_rollout import OLD_DIGEST_LENGTH, configure_script, parameter_name
from infra.alarms import fleet_query

GROUP = "OomWatch-SyslogLogGroup-Q1w2E3r4T5y6"
STACK = "OomWatch"
NAME = parameter_name(STACK)

#: The agent wizard's "Standard" plan on EC2 Linux, as its own test expects it
#: (aws/amazon-cloudwatch-agent ``tool/processors/defaultConfig/defaultConfig_test.go``, ``standardMetricsConf``).
WIZARD_STANDARD: dict[str, Any] = {
    "metrics": {
        "aggregation_dimensions": [["InstanceId"]],
        "append_dimensions": {
            "ImageId": "${aws:ImageId}",
            "InstanceId": "${aws:InstanceId}",
            "InstanceType": "${aws:InstanceType}",
            "AutoScalingGroupName": "${aws:AutoScalingGroupName}",
        },
        "metrics_collected": {
            "cpu": {
                "resources": ["*"],
                "totalcpu": False,
                "metrics_collection_interval": 60,
                "measurement": ["cpu_usage_idle", "cpu_usage_iowait", "cpu_usage_user", "cpu_usage_system"],
            },
            "disk": {
                "resources": ["*"],
                "metrics_collection_interval": 60,
                "measurement": ["used_percent", "inodes_free"],
            },
            "diskio": {"resources": ["*"], "metrics_collection_interval": 60, "measurement": ["io_time"]},
            "mem": {"metrics_collection_interval": 60, "measurement": ["mem_used_percent"]},
            "swap": {"metrics_collection_interval": 60, "measurement": ["swap_used_percent"]},
        },
    }
}

#: A host's own journald collection: the agent's sample ``translator/tocwconfig/sampleConfig/journaldlogs_units.json``.
OWN_JOURNALD: dict[str, Any] = {
    "logs": {
        "concurrency": 1,
        "logs_collected": {
            "journald": {
                "collect_list": [
                    {
                        "log_group_name": "journald-sshd",
                        "log_stream_name": "journald-stream",
                        "units": ["sshd"],
                        "retention_in_days": 7,
                    }
                ]
            }
        },
    }
}

#: A host that tails its own application log and publishes CPU (no global metrics keys).
OWN_FILES_AND_CPU: dict[str, Any] = {
    "logs": {
        "logs_collected": {"files": {"collect_list": [{"file_path": "/var/log/app.log", "log_group_name": "app"}]}}
    },
    "metrics": {"metrics_collected": {"cpu": {"measurement": ["cpu_usage_idle"], "totalcpu": True}}},
}


def oomwatch(log_mode: LogMode = "oom", log_sources: LogSources = "both") -> dict[str, Any]:
    return build_agent_config(log_group_name=GROUP, log_mode=log_mode, log_sources=log_sources)


def old_name(log_mode: LogMode, log_sources: LogSources) -> str:
    """The hashed parameter name OOMWatch used before the fixed one."""
    return f"AmazonCloudWatch-{STACK}-{config_digest(log_mode=log_mode, log_sources=log_sources)}"


# --- the model reproduces the agent's rules ----------------------------------------------------------------------


def test_keys_without_a_rule_must_be_equal_and_lists_with_one_are_unioned() -> None:
    a = {
        "agent": {"metrics_collection_interval": 60},
        "logs": {"logs_collected": {"files": {"collect_list": [{"file_path": "/a"}]}}},
    }
    b = {
        "agent": {"metrics_collection_interval": 60},
        "logs": {"logs_collected": {"files": {"collect_list": [{"file_path": "/a"}, {"file_path": "/b"}]}}},
    }
    assert merge({"a": a, "b": b}) == {
        "agent": {"metrics_collection_interval": 60},
        "logs": {"logs_collected": {"files": {"collect_list": [{"file_path": "/a"}, {"file_path": "/b"}]}}},
    }
    c = {"agent": {"metrics_collection_interval": 10}}
    with pytest.raises(MergeError, match="/agent/metrics_collection_interval: different values"):
        merge({"a": a, "c": c})


def test_file_names_follow_the_parameter_name() -> None:
    assert ssm_file_name("AmazonCloudWatch-OomWatch") == "ssm_AmazonCloudWatch-OomWatch"
    assert ssm_file_name("/AmazonCloudWatch/x y:z") == "ssm__AmazonCloudWatch_x_y_z"


# --- deploy, change log_mode, deploy again ------------------------------------------------------------------------


@pytest.mark.parametrize("log_sources", ["both", "files", "journald"])
def test_a_changed_configuration_replaces_the_old_one(log_sources: LogSources) -> None:
    host = Host()
    host.ctl("append-config", NAME, oomwatch("oom", log_sources))
    assert host.running == oomwatch("oom", log_sources)
    # The stack is deployed again with another log mode: same parameter name, new content.
    assert parameter_name(STACK) == NAME
    host.ctl("append-config", NAME, oomwatch("full", log_sources))
    assert host.files == {ssm_file_name(NAME): oomwatch("full", log_sources)}
    assert host.running == oomwatch("full", log_sources)  # exactly the new configuration, not old + new


def test_the_old_hashed_names_added_a_second_file_that_broke_the_merge() -> None:
    # What hosts went through before the fixed name: each configuration was a new file.
    host = Host()
    host.ctl("append-config", old_name("oom", "both"), oomwatch("oom", "both"))
    with pytest.raises(MergeError, match="/logs/logs_collected/journald: different values"):
        host.ctl("append-config", old_name("full", "both"), oomwatch("full", "both"))
    assert host.running == oomwatch("oom", "both")  # the agent keeps the old configuration
    # With files only the two collect_lists were unioned: every file tailed twice, the old filter kept.
    files_host = Host()
    files_host.ctl("append-config", old_name("oom", "files"), oomwatch("oom", "files"))
    files_host.ctl("append-config", old_name("full", "files"), oomwatch("full", "files"))
    assert files_host.running is not None
    entries = files_host.running["logs"]["logs_collected"]["files"]["collect_list"]
    assert len(entries) == 2 * len(oomwatch("full", "files")["logs"]["logs_collected"]["files"]["collect_list"])


def test_hosts_configured_from_old_names_are_cleaned_up() -> None:
    # GIVEN a host that still has two old hashed OOMWatch files and its own configuration
    host = Host(
        files={ssm_file_name(old_name("oom", "files")): oomwatch("oom", "files"), "file_app.json": OWN_FILES_AND_CPU}
    )
    host.files[ssm_file_name(old_name("kernel", "files"))] = oomwatch("kernel", "files")
    # WHEN the rollout script's clean-up pattern selects the files to delete
    pattern = _stale_pattern()
    stale = [name for name in host.files if fnmatch.fnmatchcase(name, pattern)]
    assert sorted(stale) == sorted(
        [ssm_file_name(old_name("oom", "files")), ssm_file_name(old_name("kernel", "files"))]
    )
    assert not fnmatch.fnmatchcase(ssm_file_name(NAME), pattern)  # never the current file
    assert not fnmatch.fnmatchcase("ssm_AmazonCloudWatch-OomWatchOther-0123456789ab", pattern)  # nor another stack's
    for name in stale:
        del host.files[name]
    host.ctl("append-config", NAME, oomwatch("oom", "both"))
    # THEN the host runs exactly its own configuration plus the current OOMWatch one
    assert host.running == merge({"file_app.json": OWN_FILES_AND_CPU, ssm_file_name(NAME): oomwatch("oom", "both")})
    assert host.files.keys() == {"file_app.json", ssm_file_name(NAME)}


def _stale_pattern() -> str:
    script = configure_script(stack_name=STACK, minimum_version=None)
    (line,) = [line for line in script if "removed the old OOMWatch file" in line]
    pattern = line.strip().split(")", 1)[0]
    assert pattern == f"ssm_{NAME}-" + "[0-9a-f]" * OLD_DIGEST_LENGTH
    return pattern


# --- a host with its own configuration ----------------------------------------------------------------------------


def test_oomwatch_sets_no_global_key() -> None:
    for sources in ("both", "files", "journald"):
        config = oomwatch("oom", sources)
        assert set(config) == {"metrics", "logs"}  # no "agent" section: no run_as_user, no omit_hostname
        assert set(config["metrics"]) == {"metrics_collected"}  # no append/aggregation_dimensions, no namespace
        assert set(config["logs"]) == {"logs_collected"}


def test_the_host_keeps_its_own_metric_dimensions() -> None:
    alone = merge({"file_app.json": OWN_FILES_AND_CPU})
    together = merge({"file_app.json": OWN_FILES_AND_CPU, ssm_file_name(NAME): oomwatch()})
    assert metric_dimension_sets(together, "cpu") == metric_dimension_sets(alone, "cpu") == {frozenset({"host"})}
    # The old global append_dimensions took the host dimension away from the host's own metrics.
    old = copy.deepcopy(oomwatch())
    old["metrics"] = {"append_dimensions": {"InstanceId": "${aws:InstanceId}"}, "metrics_collected": {
        name: {k: v for k, v in section.items() if k != "append_dimensions"}
        for name, section in old["metrics"]["metrics_collected"].items()
    }}  # fmt: skip
    assert metric_dimension_sets(merge({"file_app.json": OWN_FILES_AND_CPU, "old": old}), "cpu") == {
        frozenset({"InstanceId"})
    }


def test_oomwatch_metrics_carry_exactly_what_the_fleet_alarms_select() -> None:
    merged = merge({"file_app.json": OWN_FILES_AND_CPU, ssm_file_name(NAME): oomwatch()})
    for plugin, metric in (("mem", "mem_used_percent"), ("swap", "swap_used_percent")):
        assert metric_dimension_sets(merged, plugin) == {frozenset(METRIC_DIMENSIONS)}
        assert f'SCHEMA("CWAgent", {", ".join(METRIC_DIMENSIONS)})' in fleet_query(metric)


def test_a_host_with_the_wizard_standard_configuration_gets_a_readable_failure() -> None:
    host = Host(files={"file_config.json": WIZARD_STANDARD})
    host.running = merge(host.files)
    before = copy.deepcopy(host.running)
    with pytest.raises(MergeError) as failure:
        host.ctl("append-config", NAME, oomwatch())
    assert [c.path for c in failure.value.conflicts] == [
        "/metrics/metrics_collected/mem",
        "/metrics/metrics_collected/swap",
    ]
    assert "Failed to merge multiple json config files" in str(failure.value)
    assert '"mem_used_percent"' in str(failure.value) and "no merge rule" in str(failure.value)
    assert host.running == before and host.files == {"file_config.json": WIZARD_STANDARD}  # nothing changed


def test_the_documented_fix_for_wizard_hosts_merges_and_keeps_their_dimensions() -> None:
    # The fix in docs/configuration.md: delete mem and swap from the host's own configuration.
    fixed = copy.deepcopy(WIZARD_STANDARD)
    del fixed["metrics"]["metrics_collected"]["mem"], fixed["metrics"]["metrics_collected"]["swap"]
    host = Host(files={"file_config.json": fixed})
    host.ctl("append-config", NAME, oomwatch())
    assert host.running is not None
    wizard_dimensions = metric_dimension_sets(merge({"w": WIZARD_STANDARD}), "mem")
    assert metric_dimension_sets(host.running, "cpu") == metric_dimension_sets(merge({"w": WIZARD_STANDARD}), "cpu")
    # The host's mem_used_percent keeps the series its own alarms use ...
    assert metric_dimension_sets(host.running, "mem") == wizard_dimensions
    # ... and so is not among the fleet alarms' {InstanceId, host} series (documented: alarm on the roll-up).
    assert frozenset(METRIC_DIMENSIONS) not in wizard_dimensions
    assert frozenset({"InstanceId"}) in wizard_dimensions


def test_a_host_with_its_own_journald_section() -> None:
    host = Host(files={"file_journald.json": OWN_JOURNALD})
    with pytest.raises(MergeError, match="/logs/logs_collected/journald: different values"):
        host.ctl("append-config", NAME, oomwatch("oom", "both"))
    # The documented fix: log_sources=files for such hosts' stack; then both configurations apply in full.
    host.ctl("append-config", NAME, oomwatch("oom", "files"))
    assert host.running == {
        "logs": {
            "concurrency": 1,
            "logs_collected": {
                "journald": OWN_JOURNALD["logs"]["logs_collected"]["journald"],
                "files": oomwatch("oom", "files")["logs"]["logs_collected"]["files"],
            },
        },
        "metrics": oomwatch("oom", "files")["metrics"],
    }


def test_fetch_config_would_remove_the_hosts_own_configuration() -> None:
    # Why the rollout uses append-config: fetch-config keeps only the file it fetched.
    host = Host(files={"file_app.json": OWN_FILES_AND_CPU})
    host.ctl("fetch-config", NAME, oomwatch())
    assert host.files == {ssm_file_name(NAME): oomwatch()}


def test_remove_config_of_a_name_the_host_never_had_fails() -> None:
    # Why old names are deleted by pattern instead of with configure (remove).
    with pytest.raises(FileNotFoundError, match="failed to remove the json file"):
        Host().ctl("remove-config", old_name("oom", "both"))
