"""The CloudWatch agent configuration: schema, size, metrics, and the log filters against real OOM reports."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest
from stack_corpus import (
    ALL_KINDS,
    KERNEL_KINDS,
    NOISE,
    SUPPLEMENT,
    USERLAND_KINDS,
    all_corpus_lines,
    corpus_files,
    corpus_lines,
    expected_kills,
    go_json,
    journal_body,
    kernel_text,
)

from agent_config.builder import (
    AGENT_NAMESPACE,
    FILE_PATHS,
    KERNEL_OOM_EXPRESSION,
    LOG_MODES,
    LOG_SOURCES,
    METRIC_DIMENSIONS,
    OOM_EXPRESSION,
    SCHEMA_PATH,
    STANDARD_PARAMETER_LIMIT_BYTES,
    SYSTEMD_OOM_EXPRESSION,
    AgentConfigError,
    LogMode,
    LogSources,
    build_agent_config,
    check_expressions,
    config_digest,
    render,
    validate_against_schema,
    worst_case_size,
)
from infra.alarms import fleet_query

COMBINATIONS = list(itertools.product(LOG_MODES, LOG_SOURCES))
GROUP = "OomWatch-SyslogLogGroup-AbCdEfGh1234"


def config(log_mode: str = "oom", log_sources: str = "both") -> dict[str, Any]:
    return build_agent_config(
        log_group_name=GROUP,
        log_mode=log_mode,  # type: ignore[arg-type]
        log_sources=log_sources,  # type: ignore[arg-type]
    )


def entries(cfg: dict[str, Any], source: str) -> list[dict[str, Any]]:
    collected: dict[str, Any] = cfg["logs"]["logs_collected"]
    return list(collected[source]["collect_list"]) if source in collected else []


def expression(entry: dict[str, Any]) -> str | None:
    filters = entry.get("filters", [])
    assert len(filters) <= 1, "the agent ships only events passing ALL filters: one include per entry"
    if not filters:
        return None
    assert filters[0]["type"] == "include"
    return str(filters[0]["expression"])


def passes(expr: str | None, text: str) -> bool:
    return expr is None or re.search(expr, text) is not None


# --- schema, size, structure ----------------------------------------------------------------------------------


def test_the_agent_schema_is_present() -> None:
    assert SCHEMA_PATH.is_file(), f"the CloudWatch agent schema must be at {SCHEMA_PATH}"


@pytest.mark.parametrize(("log_mode", "log_sources"), COMBINATIONS)
def test_valid_against_the_agent_schema(log_mode: str, log_sources: str) -> None:
    assert validate_against_schema(config(log_mode, log_sources))


def test_schema_validation_catches_a_mistake() -> None:
    broken = config()
    broken["logs"]["logs_collected"]["journald"]["collect_list"][0]["retention"] = 7
    with pytest.raises(AgentConfigError, match="violates the agent schema"):
        validate_against_schema(broken)


def test_a_missing_schema_is_an_error_never_a_skip(tmp_path: Any) -> None:
    # GIVEN a checkout whose schema file is gone
    absent = tmp_path / "schema.json"
    # THEN validation (and so synth) fails instead of warning and going on
    with pytest.raises(AgentConfigError, match="schema not found"):
        validate_against_schema(config(), schema_path=absent)


def test_the_schema_is_the_agents_own_copy_with_its_provenance() -> None:
    import hashlib

    provenance = (SCHEMA_PATH.parent / "PROVENANCE.txt").read_text()
    digest = hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest()
    assert f"sha256: {digest}" in provenance
    assert "MIT License" in provenance


@pytest.mark.parametrize(("log_mode", "log_sources"), COMBINATIONS)
def test_fits_a_standard_parameter_with_the_longest_group_name(log_mode: LogMode, log_sources: LogSources) -> None:
    assert worst_case_size(log_mode=log_mode, log_sources=log_sources) <= STANDARD_PARAMETER_LIMIT_BYTES


def test_rendered_minified() -> None:
    cfg = config()
    text = render(cfg)
    assert json.loads(text) == cfg
    assert text == json.dumps(cfg, separators=(",", ":"))
    assert len(text) < len(json.dumps(cfg))


def test_digest_changes_with_the_configuration_only() -> None:
    digests = {config_digest(log_mode=m, log_sources=s) for m, s in COMBINATIONS}  # type: ignore[arg-type]
    assert len(digests) == len(COMBINATIONS)
    assert config_digest(log_mode="oom", log_sources="both") == config_digest(log_mode="oom", log_sources="both")


@pytest.mark.parametrize(("log_mode", "log_sources"), COMBINATIONS)
def test_everything_goes_to_one_group_with_instance_id_streams(log_mode: str, log_sources: str) -> None:
    cfg = config(log_mode, log_sources)
    all_entries = entries(cfg, "files") + entries(cfg, "journald")
    assert all_entries
    assert {entry["log_group_name"] for entry in all_entries} == {GROUP}
    assert {entry["log_stream_name"] for entry in all_entries} == {"{instance_id}"}


@pytest.mark.parametrize(("log_mode", "log_sources"), COMBINATIONS)
def test_no_retention_no_user_no_agent_section(log_mode: str, log_sources: str) -> None:
    cfg = config(log_mode, log_sources)
    text = render(cfg)
    assert "retention_in_days" not in text  # CDK owns the log group's retention
    assert "run_as_user" not in text and "agent" not in cfg  # see docs/configuration.md
    assert "timestamp_format" not in text and "multi_line_start_pattern" not in text  # one line = one event


@pytest.mark.parametrize(("log_mode", "log_sources"), COMBINATIONS)
def test_sources(log_mode: str, log_sources: str) -> None:
    cfg = config(log_mode, log_sources)
    files = [entry["file_path"] for entry in entries(cfg, "files")]
    assert files == (list(FILE_PATHS) if log_sources in ("both", "files") else [])
    journald = entries(cfg, "journald")
    if log_sources == "files":
        assert journald == []
    elif log_mode == "full":
        assert journald == [{"log_group_name": GROUP, "log_stream_name": "{instance_id}"}]  # the whole journal
    else:
        assert [(entry.get("matches"), entry.get("units")) for entry in journald] == [
            ([{"_TRANSPORT": "kernel"}], None),
            (None, ["systemd-oomd.service", "earlyoom.service"]),
            ([{"SYSLOG_IDENTIFIER": "systemd"}], None),
        ]


def test_two_metrics_per_host_with_exactly_the_alarm_dimensions() -> None:
    metrics = config()["metrics"]
    # No global key: append_dimensions would drop the host dimension of all the host's metrics and, like
    # aggregation_dimensions and namespace, must be equal in every configuration file on the host.
    assert set(metrics) == {"metrics_collected"}
    collected = metrics["metrics_collected"]
    section_dimensions = {"InstanceId": "${aws:InstanceId}"}
    assert collected == {
        "mem": {
            "measurement": ["mem_used_percent"],
            "metrics_collection_interval": 60,
            "append_dimensions": section_dimensions,
        },
        "swap": {
            "measurement": ["swap_used_percent"],
            "metrics_collection_interval": 60,
            "append_dimensions": section_dimensions,
        },
    }
    # The fleet alarms select exactly that dimension set (the sections' plus the agent's host) in CWAgent.
    assert set(METRIC_DIMENSIONS) == {*section_dimensions, "host"}
    for name in ("mem_used_percent", "swap_used_percent"):
        query = fleet_query(name)
        schema = re.search(r'SCHEMA\("(?P<ns>[^"]+)", (?P<dims>[^)]+)\)', query)
        assert schema is not None
        assert schema["ns"] == AGENT_NAMESPACE
        assert {d.strip() for d in schema["dims"].split(",")} == set(METRIC_DIMENSIONS)
        assert f"MAX({name})" in query and "GROUP BY InstanceId" in query


# --- filter expressions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("log_mode", "log_sources"), COMBINATIONS)
def test_expressions_follow_the_rules(log_mode: str, log_sources: str) -> None:
    cfg = config(log_mode, log_sources)
    check_expressions(cfg)
    for entry in entries(cfg, "files") + entries(cfg, "journald"):
        expr = expression(entry)
        if expr is not None:
            assert "(?" not in expr, "lookarounds and inline flags are not RE2"


def test_check_expressions_rejects_escapes_and_anchors() -> None:
    for bad in ("Killed\\sprocess", 'say "oom"', "^Killed process"):
        cfg = config()
        cfg["logs"]["logs_collected"]["files"]["collect_list"][0]["filters"][0]["expression"] = bad
        with pytest.raises(AgentConfigError):
            check_expressions(cfg)


def kind_lines(kinds: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(file, kind, line) for every corpus and supplement line of one of ``kinds``."""
    found = []
    for name, line in [*all_corpus_lines(), *(("supplement", line) for line in SUPPLEMENT)]:
        for kind, is_kind in kinds.items():
            if is_kind(line):
                found.append((name, kind, line))
    return found


def test_every_kind_occurs_in_the_test_lines() -> None:
    assert {kind for _, kind, _ in kind_lines(ALL_KINDS)} == set(ALL_KINDS)


def test_oom_mode_files_pass_every_line_the_parser_uses() -> None:
    (expr,) = {expression(entry) for entry in entries(config("oom", "files"), "files")}
    assert expr == OOM_EXPRESSION
    missed = [(name, kind, line) for name, kind, line in kind_lines(ALL_KINDS) if not passes(expr, line)]
    assert not missed, missed[:10]


def test_oom_mode_journald_passes_every_kernel_line_the_parser_uses() -> None:
    """On the journald path the filter sees the JSON-encoded journal fields, not a syslog line."""
    kernel_entry = entries(config("oom", "journald"), "journald")[0]
    assert expression(kernel_entry) == KERNEL_OOM_EXPRESSION
    missed = []
    for name, kind, line in kind_lines(KERNEL_KINDS):
        for message in {line, kernel_text(line)}:
            if not passes(KERNEL_OOM_EXPRESSION, go_json(journal_body(message))):
                missed.append((name, kind, message))
    assert not missed, missed[:10]


def test_oom_mode_journald_passes_systemds_oom_lines() -> None:
    systemd_entry = entries(config("oom", "journald"), "journald")[2]
    assert expression(systemd_entry) == SYSTEMD_OOM_EXPRESSION
    lines = [line for _, _, line in kind_lines(USERLAND_KINDS) if "systemd[" in line]
    assert len(lines) >= 5
    for line in lines:
        message = line.split("]: ", 1)[1]
        assert passes(SYSTEMD_OOM_EXPRESSION, go_json(journal_body(message, transport="journal", identifier="systemd")))
    routine = go_json(journal_body("Started Session 42 of User ec2-user.", transport="journal", identifier="systemd"))
    assert not passes(SYSTEMD_OOM_EXPRESSION, routine)


def test_oom_mode_drops_ordinary_syslog() -> None:
    cfg = config("oom", "both")
    for entry in entries(cfg, "files"):
        assert [line for line in NOISE if passes(expression(entry), line)] == []
    kernel_entry, _, systemd_entry = entries(cfg, "journald")
    for line in NOISE:
        kernel = " kernel: " in line
        body = journal_body(kernel_text(line), transport="kernel" if kernel else "journal")
        if kernel:
            assert not passes(expression(kernel_entry), go_json(body)), line
        assert not passes(expression(systemd_entry), go_json(body)), line


def test_oom_mode_keeps_stack_traces_and_meminfo_on_the_host() -> None:
    """Most of a report is not needed: oom mode must actually be cheaper than kernel mode."""
    lines = [line for _, line in all_corpus_lines()]
    shipped = [line for line in lines if passes(OOM_EXPRESSION, line)]
    assert len(shipped) < 0.6 * len(lines)
    for dropped in ("Call Trace:", "dump_stack+0x", "Hardware name:", "Mem-Info:", "pages reserved"):
        assert not [line for line in shipped if dropped in line], dropped


def test_kernel_mode_ships_every_kernel_line_and_userland_oom_lines() -> None:
    (expr,) = {expression(entry) for entry in entries(config("kernel", "files"), "files")}
    assert expr is not None
    syslog_lines = [line for _, line in all_corpus_lines() if re.match(r"\w{3} [ \d]\d [\d:]{8} \S+ kernel: ", line)]
    assert len(syslog_lines) > 50
    assert all(passes(expr, line) for line in syslog_lines)
    assert all(passes(expr, line) for line in NOISE if " kernel: " in line)
    assert not [line for line in NOISE if " kernel: " not in line and passes(expr, line)]
    assert all(passes(expr, line) for _, _, line in kind_lines(USERLAND_KINDS))
    journald = entries(config("kernel", "journald"), "journald")
    assert expression(journald[0]) is None  # every kernel message


def test_full_mode_has_no_filters() -> None:
    cfg = config("full", "both")
    assert all(expression(entry) is None for entry in entries(cfg, "files") + entries(cfg, "journald"))


@pytest.mark.parametrize("path", corpus_files(), ids=lambda path: path.name[:2])
def test_every_labelled_kill_reaches_cloudwatch_in_oom_mode(path: Any) -> None:
    lines = corpus_lines(path)
    for kill in expected_kills(path):
        kernel = kill["source"] == "kernel"
        needle = f"Killed process {kill['victim_pid']}" if kernel else str(kill["victim_comm"])
        carrying = [line for line in lines if needle in line]
        assert carrying, (path.name, needle)
        assert any(passes(OOM_EXPRESSION, line) for line in carrying), (path.name, needle)
