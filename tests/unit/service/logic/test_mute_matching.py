"""Which mute silences a kill (service.logic.mutes): each target kind, the first active match, breakthrough."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest
from oomwatch import parse_lines
from oomwatch.mutes import Mute
from service.logic.mutes import breakthrough_note, matches, mute_of
from service.logic.severity import severity, units
from service.models.instance import InstanceInfo

from tests.support.poison import global_report, memcg_report

IID = "i-0abc12345def67890"
NOW = 1_795_169_700
INFO = InstanceInfo(IID, name="web-1", asg="web-asg", tags=MappingProxyType({"team": "web", "Name": "web-1"}))
GLOBAL, MEMCG = parse_lines(global_report("") + memcg_report("", start_us=1_795_169_700_000_000))


def mute(kind: str, value: str, mid: str = "m-0a1b2c3d", **changes: Any) -> Mute:
    fields: dict[str, Any] = dict(id=mid, kind=kind, value=value, start=NOW, end=NOW + 3600, reason="r", by="al")
    fields.update(changes)
    return Mute(**fields)


@pytest.mark.parametrize(
    ("kind", "value", "hit"),
    [
        ("process", str(GLOBAL["victim"]["comm"]), True),
        ("process", str(GLOBAL["victim"]["comm"])[:3] + "*", True),
        ("process", "nginx", False),
        ("instance", IID, True),
        ("instance", "i-0fedcba9876543210", False),
        ("asg", "web-asg", True),
        ("asg", "db-asg", False),
        ("tag", "team=web", True),
        ("tag", "team=db", False),
        ("tag", "owner=web", False),
    ],
)
def test_each_target_kind(kind: str, value: str, hit: bool) -> None:
    assert matches(mute(kind, value), GLOBAL, IID, INFO) is hit


def test_a_unit_matches_with_or_without_its_suffix_and_by_glob() -> None:
    # GIVEN a kill the kernel's cgroup lines tie to php8.1-fpm.service (units() is what severity reads too)
    event: Any = {**GLOBAL, "units": ["php8.1-fpm.service"]}
    assert units(event) == ["php8.1-fpm.service"]
    assert matches(mute("unit", "php8.1-fpm.service"), event, IID, INFO)
    assert matches(mute("unit", "php8.1-fpm"), event, IID, INFO)
    assert matches(mute("unit", "php*-fpm"), event, IID, INFO)
    assert not matches(mute("unit", "nothing.service"), event, IID, INFO)
    # a scope (a login session) is not a unit the kill names: no unit mute matches it
    assert not matches(mute("unit", "session-2*"), GLOBAL, IID, INFO)


def test_without_ec2_facts_asg_and_tag_mutes_match_nothing() -> None:
    assert not matches(mute("asg", "web-asg"), GLOBAL, IID, None)
    assert not matches(mute("tag", "team=web"), GLOBAL, IID, None)
    assert not matches(mute("instance", IID), GLOBAL, None, None)


def decide(mutes: list[Mute], event: Any, *, breakthrough: bool = True, now: int = NOW + 60) -> Any:
    sev = severity(event, ("doxygen*", "*"))
    return mute_of(mutes, event, sev, IID, INFO, now_s=now, max_hours=72, breakthrough_critical=breakthrough)


def test_the_first_active_matching_mute_decides() -> None:
    expired = mute("instance", IID, "m-00000001", end=NOW + 30)
    other = mute("asg", "db-asg", "m-00000002")
    first = mute("tag", "team=web", "m-00000003")
    second = mute("instance", IID, "m-00000004")
    found = decide([expired, other, first, second], MEMCG, now=NOW + 60)
    assert found is not None and found.mute == first and found.muted


def test_nothing_matches_nothing_is_muted() -> None:
    assert decide([mute("asg", "db-asg")], MEMCG) is None
    assert decide([], MEMCG) is None


def test_a_critical_host_wide_kill_breaks_through_unless_turned_off() -> None:
    assert GLOBAL.get("constraint") == "global"
    m = mute("instance", IID)
    through = decide([m], GLOBAL)
    assert through is not None and not through.muted
    held = decide([m], GLOBAL, breakthrough=False)
    assert held is not None and held.muted
    # a critical memory-cgroup kill is muted: only a host that ran out of memory breaks through
    memcg = decide([m], MEMCG)
    assert memcg is not None and memcg.muted
    assert breakthrough_note(m).startswith("This alert broke through mute m-0a1b2c3d (instance i-0abc12345def67890")
