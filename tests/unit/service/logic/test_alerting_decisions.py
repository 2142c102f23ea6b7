"""Severity, fingerprints, allow-list, settings and instance facts (pure functions)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from oomwatch.event import OomEvent
from service.logic.severity import allow_listed, fingerprint, name_matches, severity
from service.models.instance import InstanceInfo, instance_id_from_stream, next_size, parse_instances, with_memory
from service.models.settings import AllowList, from_env

CRITICAL = ("mysqld", "php-fpm", "java", "node", "redis-server")


def event(comm: str = "worker", constraint: str = "memcg", workload: dict[str, Any] | None = None) -> OomEvent:
    event: dict[str, Any] = {
        "source": "kernel",
        "constraint": constraint,
        "host": "web-1",
        "victim": {"pid": 42, "comm": comm, "rss_kb": 1024},
        "cgroup": {"oom_memcg": None, "task_memcg": None, "workload": workload} if workload else None,
        "units": [],
    }
    return cast(OomEvent, event)  # a partial event, as the tests need


@pytest.mark.parametrize(
    ("name", "pattern", "expected"),
    [
        ("php-fpm", "php-fpm", True),
        ("php-fpm8.1", "php-fpm", True),  # versioned binary
        ("nodemon", "node", False),  # a different program
        ("redis-server", "redis-server", True),
        ("clickhouse-back", "clickhouse-backup", True),  # truncated to 15 characters by the kernel
        ("stress-ng-vm", "stress-ng*", True),  # glob
        ("java", "javac", False),
    ],
)
def test_process_name_matching(name: str, pattern: str, expected: bool) -> None:
    # GIVEN a process name as the kernel prints it and a configured pattern
    # WHEN they are compared
    matched = name_matches(name, pattern)
    # THEN versioned and truncated names match, other programs do not
    assert matched is expected


def test_severity_is_critical_for_host_wide_or_critical_processes() -> None:
    # GIVEN a global kill of an unlisted process, a memcg kill of mysqld, a memcg kill of a worker
    # WHEN classified
    glob = severity(event("worker", "global"), CRITICAL)
    crit = severity(event("mysqld", "memcg"), CRITICAL)
    warn = severity(event("worker", "memcg"), CRITICAL)
    # THEN the first two are critical and say why; the last is a warning
    assert (glob.level, glob.reason) == ("critical", "host-wide out of memory")
    assert (crit.level, crit.reason) == ("critical", "mysqld is on the critical list")
    assert warn.level == "warning"


def test_severity_also_matches_the_systemd_unit() -> None:
    # GIVEN a kill whose process name is generic but whose unit is php-fpm's
    ev = event("pool www", workload={"kind": "systemd-unit", "name": "php-fpm.service", "unit": "php-fpm.service"})
    # WHEN classified
    level = severity(ev, CRITICAL).level
    # THEN the unit stem puts it on the critical list
    assert level == "critical"


def test_fingerprint_groups_an_asg_and_separates_instances_without_one() -> None:
    # GIVEN the same process killed on two instances of one ASG and on a standalone instance
    a = InstanceInfo("i-0000000000000000a", asg="web-asg")
    b = InstanceInfo("i-0000000000000000b", asg="web-asg")
    c = InstanceInfo("i-0000000000000000c")
    ev = event("php-fpm8.1")
    # WHEN fingerprinted
    fa, fb, fc = fingerprint(ev, a.instance_id, a), fingerprint(ev, b.instance_id, b), fingerprint(ev, c.instance_id, c)
    # THEN the ASG members share one fingerprint and the standalone host has its own
    assert fa.key == fb.key != fc.key
    assert fa.scope == "asg:web-asg" and fc.scope == "instance:i-0000000000000000c"


def test_fingerprint_prefers_the_named_workload_and_falls_back_to_the_host() -> None:
    # GIVEN two kills of different pids/comms in one systemd unit, on a stream that is no instance
    unit = {"kind": "systemd-unit", "name": "app.service", "unit": "app.service"}
    # WHEN fingerprinted
    one = fingerprint(event("app", workload=unit), None, None)
    two = fingerprint(event("app-worker", workload=unit), None, None)
    # THEN they fold together under the unit, scoped by host
    assert one.key == two.key and one.subject == "app.service" and one.scope == "host:web-1"
    # AND a user session is not a service: the process name is used
    session = {"kind": "user-session", "name": "session-2.scope"}
    assert fingerprint(event("doxygen", workload=session), None, None).subject == "doxygen"


def test_allow_list_by_process_unit_and_tag() -> None:
    # GIVEN an allow-list with a process pattern, a unit pattern and a tag
    allow = AllowList(processes=("stress-ng*",), units=("batch-*.service",), tags={"oom-expected": "true"})
    unit = {"kind": "systemd-unit", "name": "batch-nightly.service", "unit": "batch-nightly.service"}
    tagged = InstanceInfo("i-1", tags={"oom-expected": "true"})
    # WHEN kills are checked against it
    # THEN each kind of entry matches and says why; an unlisted kill is not allow-listed
    assert allow_listed(event("stress-ng-vm"), None, allow) == "process stress-ng* is allow-listed"
    assert allow_listed(event("python3", workload=unit), None, allow) == "unit batch-nightly.service is allow-listed"
    assert allow_listed(event("mysqld"), tagged, allow) == "instance tag oom-expected=true is allow-listed"
    assert allow_listed(event("mysqld"), InstanceInfo("i-2"), allow) is None


def test_settings_defaults_and_bad_values_degrade_with_a_note() -> None:
    # GIVEN an environment with a broken threshold and broken allow-list JSON
    env = {"TOPIC_ARN": "arn:t", "LOOP_THRESHOLD": "five", "ALLOW_LIST": "{not json", "NOISE_WINDOW_MINUTES": "30"}
    # WHEN parsed
    s = from_env(env)
    # THEN defaults apply where the value is unusable, and each problem is reported
    assert s.loop_threshold == 5 and s.noise_window_minutes == 30 and s.allow_list == AllowList()
    assert "mysqld" in s.critical_processes and "redis-server" in s.critical_processes
    assert len(s.problems) == 2


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        ("i-0abc12345def67890", "i-0abc12345def67890"),
        ("i-0abc1234", "i-0abc1234"),
        ("web/i-0abc12345def67890/syslog", "i-0abc12345def67890"),
        ("legacy-db", None),
        ("xi-0abc12345def67890", None),
    ],
)
def test_instance_id_from_stream(stream: str, expected: str | None) -> None:
    # GIVEN a log stream name
    # WHEN the instance id is looked for
    found = instance_id_from_stream(stream)
    # THEN only a whole instance id is taken
    assert found == expected


def test_next_size_is_the_smallest_bigger_type_of_the_family() -> None:
    # GIVEN the RAM of some instance types
    memory = {"t3.medium": 4096, "t3.large": 8192, "t3.xlarge": 16384, "t3.small": 2048, "m5.large": 8192}
    # WHEN the next size is asked for
    # THEN it is the smallest type of the same family with more RAM, or None
    assert next_size("t3.large", memory) == ("t3.xlarge", 16384)
    assert next_size("t3.xlarge", memory) is None
    assert next_size("c9.large", memory) is None


def test_parse_instances_reads_name_asg_and_placement() -> None:
    # GIVEN a DescribeInstances reservation
    reservations = [
        {
            "Instances": [
                {
                    "InstanceId": "i-1",
                    "InstanceType": "t3.large",
                    "Placement": {"AvailabilityZone": "eu-west-1b"},
                    "PrivateIpAddress": "10.0.0.5",
                    "ImageId": "ami-1",
                    "State": {"Name": "running"},
                    "Tags": [{"Key": "Name", "Value": "web-1"}, {"Key": "aws:autoscaling:groupName", "Value": "web"}],
                }
            ]
        }
    ]
    # WHEN parsed and given the RAM table
    info = with_memory(parse_instances(reservations)["i-1"], {"t3.large": 8192, "t3.xlarge": 16384})
    # THEN every field the alert shows is there
    assert (info.name, info.asg, info.az, info.private_ip, info.memory_mib) == (
        "web-1",
        "web",
        "eu-west-1b",
        "10.0.0.5",
        8192,
    )
    assert (info.next_type, info.next_memory_mib) == ("t3.xlarge", 16384)
