"""``oomwatch demo`` with one's own logs, without an emulator: the ``--log`` arguments, compressed files, the
instance each report implies, the agent's host-side filter, what counts as a structured event, the output
order, the digest's clock and the emulated metrics and launch time (issue 11)."""

from __future__ import annotations

import bz2
import datetime as dt
import glob
import gzip
import io
import json
import lzma
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from oomwatch import parse_lines

from agent_config.builder import build_agent_config, render
from demo import cli, fleet, inputs
from demo.agent_filter import HostFilter, configuration_from_template
from demo.logplay import read_lines
from demo.pipeline import Demo

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "demo" / "samples"
CORPUS = REPO / "tests" / "corpus"
WEB = SAMPLES / "web-1.ubuntu-22.04.syslog"
API = SAMPLES / "api-1.al2023.agent-journald.jsonl"
#: A 32 GiB RHEL 7 host whose victim held 30 GiB: seeded as a t3.medium it read "1086% RAM".
BIG = CORPUS / "01_rhel7_3.10.0-514_global_kill_process_sacrifice_child.log"
ID = "i-0123456789abcdef0"


def _mib(instance_type: str) -> int:
    return dict(inputs.TYPES_BY_MEMORY)[instance_type]


# --- --log INSTANCE_ID=FILE[:TYPE] ---------------------------------------------------------------------------


def test_a_log_names_its_instance_type_and_the_old_form_still_works() -> None:
    # GIVEN the same report with and without a type
    (typed,), _ = cli.load_plays([f"{ID}={BIG}:r5.large"])
    (plain,), _ = cli.load_plays([f"{ID}={BIG}"])
    # THEN the given type wins; without one the report decides
    assert typed.host.instance_type == "r5.large" and typed.type_source == "--log"
    assert plain.host.instance_type != "t3.medium" and plain.text == typed.text
    for bad in (f"{ID}={BIG}:R5 LARGE", f"{ID}={BIG}:"):
        with pytest.raises(inputs.InputError):
            cli.load_plays([bad])


def test_a_file_whose_name_has_a_colon_is_still_a_file(tmp_path: Path) -> None:
    odd = tmp_path / "syslog:old"
    odd.write_bytes(WEB.read_bytes())
    (play,), _ = cli.load_plays([f"{ID}={odd}"])
    assert play.host.name == "web-1" and play.type_source != "--log"


def test_the_default_type_holds_the_reports_ram_so_no_kill_exceeds_it() -> None:
    """Every corpus report with a Mem-Info RAM figure: the seeded type is the smallest of the table with at
    least that RAM, and no victim holds more than 100 % of it (t3.medium gave 30 GiB = 754 %)."""
    checked = 0
    for path in sorted(CORPUS.glob("*.log")):
        text = path.read_text(errors="replace")
        facts = inputs.report_facts(text)
        if facts.ram_mib is None or facts.hardware_type is not None or not facts.kills:
            continue
        (play,), _ = cli.load_plays([f"{ID}={path}"])
        chosen = play.host.instance_type
        smaller = [mib for _, mib in inputs.TYPES_BY_MEMORY if mib < _mib(chosen)]
        assert _mib(chosen) >= facts.ram_mib > max(smaller, default=0), path.name
        for event in parse_lines(text.splitlines(), stream="x"):
            rss_kb = event["victim"]["rss_kb"]
            assert rss_kb is not None, path.name
            assert rss_kb / 1024 <= _mib(chosen), path.name
        checked += 1
    assert checked >= 4
    (big,), _ = cli.load_plays([f"{ID}={BIG}"])
    assert big.host.instance_type == "t3.2xlarge" and "pages RAM" in big.type_source


def test_the_kernels_own_ec2_type_line_is_believed_first() -> None:
    (web,), _ = cli.load_plays([f"{ID}={WEB}"])
    (api,), _ = cli.load_plays([f"{ID}={API}"])
    assert (web.host.instance_type, api.host.instance_type) == ("t3.medium", "m6i.large")
    assert web.type_source == "the report's Hardware name line"


def test_without_any_ram_figure_the_tasks_size_the_host(tmp_path: Path) -> None:
    # GIVEN the big report without its Mem-Info lines (only what oom mode ships)
    lines = [ln for ln in BIG.read_text(errors="replace").splitlines() if "pages RAM" not in ln]
    cut = tmp_path / "no-meminfo.log"
    cut.write_text("\n".join(lines) + "\n")
    (play,), _ = cli.load_plays([f"{ID}={cut}"])
    assert _mib(play.host.instance_type) >= 30893 and "tasks held" in play.type_source


def test_the_type_table_agrees_with_the_ec2_data_moto_answers_describe_instance_types_with() -> None:
    import moto

    (path,) = glob.glob(os.path.join(os.path.dirname(moto.__file__), "ec2", "resources", "instance_types.json.gz"))
    data = json.loads(gzip.decompress(Path(path).read_bytes()))
    for name, mib in inputs.TYPES_BY_MEMORY:
        assert data[name]["MemoryInfo"]["SizeInMiB"] == mib, name
    sizes = [mib for _, mib in inputs.TYPES_BY_MEMORY]
    assert sizes == sorted(sizes)


def test_the_bundled_fleet_agrees_with_its_reports() -> None:
    """Each sample's seeded type holds its report's RAM, and matches the kernel's EC2 type line."""
    manifest = {h["instance_id"]: h for h in json.loads((SAMPLES / "fleet.json").read_text())["hosts"]}
    plays, _ = cli.load_plays([])
    for play in plays:
        facts = inputs.report_facts(play.text)
        assert facts.hardware_type == play.host.instance_type == manifest[play.host.instance_id]["instance_type"]
        if facts.ram_mib is not None:
            assert facts.ram_mib <= _mib(play.host.instance_type)


# --- compressed logs, and logs without a kill ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "compress"), [(".gz", gzip.compress), (".xz", lzma.compress), (".bz2", bz2.compress), ("", bytes)]
)
def test_compressed_logs_are_read_as_oomwatch_scan_reads_them(tmp_path: Path, suffix: str, compress: Any) -> None:
    # GIVEN the web sample compressed, under a name that says nothing (scan goes by the magic bytes)
    packed = tmp_path / f"messages.1{suffix}.bin"
    packed.write_bytes(compress(WEB.read_bytes()))
    (play,), _ = cli.load_plays([f"{ID}={packed}"])
    assert play.text == WEB.read_text()
    assert play.kills == 1 and play.host.name == "web-1"


def test_a_corrupt_compressed_log_is_refused_in_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "syslog.gz"
    broken.write_bytes(gzip.compress(WEB.read_bytes())[:300])
    with pytest.raises(inputs.InputError, match="cannot read"):
        cli.load_plays([f"{ID}={broken}"])


def test_a_log_without_a_kill_is_refused_before_anything_is_deployed(tmp_path: Path) -> None:
    noise = tmp_path / "syslog"
    noise.write_text("Nov 26 10:14:33 web-1 chronyd[702]: Selected source 169.254.169.123\n")
    with pytest.raises(inputs.InputError, match="no OOM kill"):
        cli.load_plays([f"{ID}={noise}"])
    err = io.StringIO()
    args = cli._parser().parse_args(["--log", f"{ID}={noise}"])
    assert cli.run(args, io.StringIO(), err) == 2
    assert err.getvalue().count("\n") == 1 and "no OOM kill" in err.getvalue()


# --- the agent's host-side filter ----------------------------------------------------------------------------


def _agent(mode: str) -> HostFilter:
    return HostFilter.from_config(build_agent_config(log_group_name="g", log_mode=mode, log_sources="both"))  # type: ignore[arg-type]


def test_in_oom_mode_only_the_report_lines_the_agent_ships_are_played() -> None:
    lines = WEB.read_text().splitlines()
    shipped = _agent("oom").select(lines)
    assert 20 < len(shipped) < len(lines) // 2
    assert not any("Mem-Info" in ln or "nginx[" in ln or "Call Trace" in ln or "pages RAM" in ln for ln in shipped)
    assert any("Killed process 48213 (php-fpm)" in ln for ln in shipped)
    assert any(ln.endswith(" php-fpm") and "]    33 " in ln for ln in shipped)  # task table rows
    # what reaches the log group still parses to the same, complete kill
    (event,) = parse_lines(shipped, stream="x")
    assert event["victim"]["pid"] == 48213 and event["complete"] and event["task_count"] == 29


def test_the_journald_path_selects_by_transport_then_filters_the_encoded_body() -> None:
    records = API.read_text().splitlines()
    shipped = [json.loads(r)["body"] for r in _agent("oom").select(records)]
    # the kernel's report lines, and systemd's own line about the unit (the SYSLOG_IDENTIFIER=systemd entry)
    assert {b["SYSLOG_IDENTIFIER"] for b in shipped} == {"kernel", "systemd"}
    assert all(b["_TRANSPORT"] == "kernel" or "killed by the OOM killer" in b["MESSAGE"] for b in shipped)
    assert not any("containerd" in b["SYSLOG_IDENTIFIER"] or b["_TRANSPORT"] == "stdout" for b in shipped)
    assert any("Killed process 31337 (java)" in b["MESSAGE"] for b in shipped)
    everything_kernel = [json.loads(r)["body"] for r in _agent("kernel").select(records)]
    assert len(shipped) < len([b for b in everything_kernel if b["_TRANSPORT"] == "kernel"])
    assert len(_agent("full").select(records)) == len(records)


def test_kernel_mode_ships_kernel_lines_and_full_mode_everything() -> None:
    lines = WEB.read_text().splitlines()
    kernel = _agent("kernel").select(lines)
    assert all(" kernel: " in ln or "oom" in ln.lower() for ln in kernel) and any("Mem-Info" in ln for ln in kernel)
    assert not any("nginx[" in ln for ln in kernel)
    assert _agent("full").select(lines) == lines


def test_exclude_filters_and_a_missing_files_section_are_honoured() -> None:
    rules = [{"type": "include", "expression": "kernel: "}, {"type": "exclude", "expression": "Call Trace"}]
    config = {"logs": {"logs_collected": {"files": {"collect_list": [{"file_path": "/x", "filters": rules}]}}}}
    agent = HostFilter.from_config(config)
    assert agent.ships("Nov 26 10:15:01 web-1 kernel: [1.0] Mem-Info:")
    assert not agent.ships("Nov 26 10:15:01 web-1 kernel: [1.0] Call Trace:")
    assert not agent.ships("Nov 26 10:15:01 web-1 nginx[1]: x")
    assert (agent.seen, agent.shipped) == (3, 1)
    journald = build_agent_config(log_group_name="g", log_mode="full", log_sources="journald")
    journald_only = HostFilter.from_config(journald)
    assert not journald_only.ships("Nov 26 10:15:01 web-1 kernel: x")  # no file is tailed


def test_the_filter_comes_from_the_configuration_the_template_hands_hosts() -> None:
    # GIVEN a template whose SSM parameter holds the rendered configuration around the log group's Ref
    head, tail = render(build_agent_config(log_group_name="@G@", log_mode="oom", log_sources="both")).split("@G@", 1)
    parts: list[Any] = [head]
    for piece in tail.split("@G@"):
        parts += [{"Ref": "SyslogLogGroup"}, piece]
    template = {"Resources": {
        "Other": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": "not json"}},
        "AgentConfigParameter": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Fn::Join": ["", parts]}}},
    }}  # fmt: skip
    config = configuration_from_template(template)
    assert config == build_agent_config(log_group_name="{SyslogLogGroup}", log_mode="oom", log_sources="both")
    assert configuration_from_template({"Resources": {}}) is None


# --- structured events ---------------------------------------------------------------------------------------


def _demo_reading(records: list[dict[str, Any]]) -> Demo:
    demo = Demo()
    demo.read_group = lambda group: [{"message": json.dumps(r)} for r in records]  # type: ignore[method-assign]
    return demo


def test_only_the_handlers_oom_kill_records_count_as_structured_events() -> None:
    warning = {"level": "WARNING", "location": "/home/me/oomwatch/lambdas/service/dal/ec2.py:88",
               "message": "describe_failed", "timestamp": "2026-12-02T03:00:00Z", "service": "oomwatch"}  # fmt: skip
    platform = {"time": "2026-12-02T03:00:00Z", "type": "platform.start", "record": {}}
    kill = {"level": "INFO", "location": "runtime.py:31", "message": "oom_kill", "decision": "alert",
            "victim": {"pid": 1, "comm": "x"}, "function_name": "f"}  # fmt: skip
    # GIVEN only a warning and Lambda's platform line: nothing is an event (main counted the warning)
    assert _demo_reading([warning, platform, {"message": "plain"}]).structured_events("g") == []
    # GIVEN a kill among them: one event, its Powertools envelope left out
    (event,) = _demo_reading([warning, kill, platform]).structured_events("g")
    assert event == {"channel": "event", "event": {"decision": "alert", "victim": {"pid": 1, "comm": "x"}}}


# --- output order --------------------------------------------------------------------------------------------


def _fake_demo() -> Any:
    rows = {f"Res{i}": {"Type": "AWS::Logs::LogGroup"} for i in range(48)}
    attempt = SimpleNamespace(cold_start=False, error_type=None, error_message=None)
    form = {"version": "1.0", "source": "custom", "content": {"title": "t", "description": "d"},
            "metadata": {"threadId": "oomwatch-kill-abc"}}  # fmt: skip
    widget = {"type": "log", "width": 12, "height": 6, "properties": {"title": "OOM kills by process"}}
    return SimpleNamespace(
        mail=dict,
        chat=lambda: {"m1": [{"protocol": "https", "message": json.dumps(form)}]},
        dashboards=lambda: [("OomWatchDashboard", [widget])],
        events_log_group=lambda: "events",
        emulated=["moto's CloudFormation skipped: AWS::Logs::SubscriptionFilter"],
        deliveries=[SimpleNamespace(ok=True, attempts=[attempt], source="logs:x")],
        asm=SimpleNamespace(stacks=[SimpleNamespace(name="OomWatch", resources=rows)]),
        physical={},
        timings=[SimpleNamespace(name="cdk deploy", seconds=2.0)],
    )


def _report(verbose: bool) -> str:
    out = io.StringIO()
    alert = {"subject": "[OOM critical] php-fpm killed on web-1", "message": "body", "message_id": "m1"}
    digest = {"subject": "[OOM digest] 2 more kills", "message": "d", "message_id": "m2"}
    cli._print_report(_fake_demo(), out, [alert], [], [digest], [], [], verbose=verbose, ahead_s=960)
    return out.getvalue()


def test_alerts_come_first_and_the_resource_table_only_with_verbose() -> None:
    plain, verbose = _report(False), _report(True)
    assert plain.index("[OOM critical]") < plain.index("[OOM digest]") < plain.index("Emulated by the demo")
    # the first alert's chat form after the e-mails, the dashboard's widgets before what was emulated
    assert plain.index("[OOM digest]") < plain.index("as Slack and Teams show it") < plain.index("threadId")
    assert plain.index("OomWatchDashboard: 1 widget\n") < plain.index("Emulated by the demo")
    assert "Res47" not in plain and "Deployed resources" not in plain and "--verbose lists them" in plain
    assert "16 min later" in plain
    assert verbose.index("[OOM critical]") < verbose.index("Deployed resources") < verbose.index("Res47")
    assert "Timings" in verbose and "Timings" not in plain
    assert max(len(line) for line in plain.splitlines()) <= 100


# --- the digest's clock --------------------------------------------------------------------------------------


def test_a_request_moves_the_handlers_clock_and_only_for_that_invocation(tmp_path: Path) -> None:
    """The emulated Lambda environment (``_lambda_worker.py``) runs the handler with ``time.time`` moved by the
    request's ``clock_offset_s``; the next request without one is back on the real clock."""
    (tmp_path / "clockfn.py").write_text(
        "import time\nclock = time.time  # bound at import, as service.wiring binds clock=time.time\n"
        "def handler(event, context):\n    return [clock(), context.get_remaining_time_in_millis()]\n"
    )
    read, write = os.pipe()
    env = {**os.environ, "_HANDLER": "clockfn.handler", "LAMBDA_TASK_ROOT": str(tmp_path),
           "OOMWATCH_DEMO_RESULT_FD": str(write), "AWS_LAMBDA_FUNCTION_NAME": "f",
           "OOMWATCH_DEMO_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:f"}  # fmt: skip
    worker = REPO / "demo" / "_lambda_worker.py"
    deadline = time.time() + 60
    requests = "".join(
        json.dumps({"request_id": str(n), "event": {}, "deadline": deadline, "clock_offset_s": offset}) + "\n"
        for n, offset in enumerate((960, 0))
    )
    proc = subprocess.run(
        [sys.executable, str(worker)], input=requests.encode(), env=env, pass_fds=(write,), capture_output=True,
        timeout=60, check=True,
    )  # fmt: skip
    os.close(write)
    with os.fdopen(read) as results:
        (ahead, ahead_left), (real, real_left) = [json.loads(line)["result"] for line in results]
    now = time.time()
    assert 955 < ahead - now < 961 and abs(real - now) < 5, proc.stdout
    assert 50_000 < ahead_left <= 60_000 and 50_000 < real_left <= 60_000  # the deadline is on the real clock


# --- emulated metrics and launch time ------------------------------------------------------------------------


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            if name == "describe_images":
                return {"Images": [{"ImageId": "ami-1"}]}
            if name == "describe_auto_scaling_groups":
                return {"AutoScalingGroups": []}
            if name == "describe_instances":
                return {"Reservations": [{"Instances": [{"InstanceId": i, "ImageId": "ami-1"}
                                                        for i in kwargs["InstanceIds"]]}]}  # fmt: skip
            return {}

        return call


def _swap_values(host: fleet.Host) -> list[float]:
    cloudwatch = _Recorder()
    fleet.put_memory_metrics(cloudwatch, _Recorder(), [host], host.instance_id, dt.datetime.now(dt.UTC))
    data = [d for _, kw in cloudwatch.calls for d in kw["MetricData"]]
    return [d["Value"] for d in data if d["MetricName"] == "swap_used_percent"]


def test_no_swap_use_is_emulated_where_the_report_says_total_swap_0kb() -> None:
    plays, alarm = cli.load_plays([])
    web = next(p for p in plays if p.host.instance_id == alarm)
    assert "Total swap = 0kB" in web.text and web.host.swap_total_kb == 0
    assert set(_swap_values(web.host)) == {0.0}
    with_swap = fleet.Host(ID, "h", "t3.medium", None, swap_total_kb=2097148)
    assert max(_swap_values(with_swap)) > 50


def test_each_host_is_launched_before_its_first_kill_by_the_kernels_uptime() -> None:
    # GIVEN the bundled hosts, seeded "now" (their logs' last lines are replayed to land after that)
    plays, _ = cli.load_plays([])
    now = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)
    ec2 = _Recorder()
    fleet.seed_instances(ec2, _Recorder(), [p.host for p in plays], now=now)
    launched = {}
    for name, kwargs in ec2.calls:
        if name == "run_instances":
            tags = {t["Key"]: t["Value"] for t in kwargs["TagSpecifications"][0]["Tags"]}
            launched[tags["_custom_id_"]] = dt.datetime.fromisoformat(tags[fleet.LAUNCH_TIME_TAG])
    for play in plays:
        stamps = [ln.original_ms for ln in read_lines(play.text) if ln.original_ms is not None]
        first_line = now - dt.timedelta(milliseconds=max(stamps) - min(stamps))  # at the latest
        uptime = inputs.report_facts(play.text).uptime_s or cli.DEFAULT_UPTIME_S
        assert launched[play.host.instance_id] <= first_line - dt.timedelta(seconds=uptime - 1), play.host.name
