"""Issue 11: every hint is computed from the whole report. Other services are every task-table row that is not
the service; unknown figures say "unknown"; a recommendation at or below zero, or above host RAM, is replaced by a
sentence naming the figure that looks wrong; nested cgroups are advised on the cgroup whose limit was hit."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from oomwatch import parse_lines
from oomwatch.cgroup import workload as classify
from oomwatch.event import OomEvent
from service.logic.hints import advise, short_path
from service.models.instance import InstanceInfo

CORPUS = Path(__file__).resolve().parents[3] / "corpus"
T3_LARGE = InstanceInfo(
    "i-0abc12345def67890", name="web-1", instance_type="t3.large", memory_mib=8192, next_type="t3.xlarge",
    next_memory_mib=16384, asg="web-asg", az="eu-west-1a",
)  # fmt: skip
DOCKER_ID = "58f8a9bf6a469f0c94d42be34ad1bdff84fad63f236baedde981139a15aa5287"  # corpus 38's container id


def table(rows: list[tuple[str, int]]) -> dict[str, Any]:
    """The parser's ``task_table`` for (comm, MiB) rows."""
    names: dict[str, list[int]] = {}
    for comm, size in rows:
        entry = names.setdefault(comm, [0, 0])
        entry[0] += 1
        entry[1] += size * 1024
    return {
        "rss_kb": sum(size for _c, size in rows) * 1024,
        "names": [{"comm": c, "tasks": n, "rss_kb": kb} for c, (n, kb) in names.items()],
    }


def event(comm: str, rows: list[tuple[str, int]] | None, constraint: str = "global", **extra: Any) -> OomEvent:
    top = sorted(rows or [], key=lambda r: -r[1])[:5]
    event: dict[str, Any] = {
        "source": "kernel",
        "constraint": constraint,
        "victim": {"pid": 4242, "comm": comm, "rss_kb": (top[0][1] if top else 3000) * 1024},
        "top_consumers": [{"pid": i, "comm": c, "rss_kb": m * 1024} for i, (c, m) in enumerate(top)],
        "task_table": table(rows) if rows is not None else None,
        "cgroup": None,
        "memcg": None,
        **extra,
    }
    return cast(OomEvent, event)  # a partial event, as the tests need


def test_the_parser_sums_the_whole_task_table_of_a_real_report() -> None:
    # GIVEN the RHEL 7 report of corpus 01 (85 tasks)
    path = next(CORPUS.glob("01_*.log"))
    [ev] = parse_lines([line for line in path.read_text().splitlines() if not line.startswith("# ")])
    # THEN its task_table holds every row's RSS, more than the 5 largest, and mysqld's own row by name
    table = ev["task_table"]
    assert table is not None
    total = table["rss_kb"]
    assert total > sum(r["rss_kb"] or 0 for r in ev["top_consumers"])
    assert sum(n["rss_kb"] for n in table["names"]) <= total
    mysqld = next(n for n in table["names"] if n["comm"] == "mysqld")
    assert mysqld == {"comm": "mysqld", "tasks": 1, "rss_kb": ev["top_consumers"][0]["rss_kb"]}


def test_php_fpm_other_services_are_every_row_that_is_not_php_fpm() -> None:
    # GIVEN six 600 MiB workers (the 5 largest rows) and twenty 10 MiB services below them
    rows = [("php-fpm8.1", 600)] * 6 + [(f"svc{i}", 10) for i in range(20)] + [("php-fpm8.1", 20)]
    # WHEN advice is computed
    _, lines = advise(event("php-fpm8.1", rows), T3_LARGE)
    # THEN the 200 MiB of the small services count (not "0 MiB"), and the pool figures are the whole pool's
    assert "- 200 MiB other tasks) / 517 MiB avg worker (7 PHP-FPM tasks held 3,620 MiB)" in lines[0], lines[0]
    assert lines[0].startswith("PHP-FPM: pm.max_children <= 13 fits: (8,192 MiB RAM - 819 MiB OS")


def test_mysql_kill_without_a_task_table_says_other_services_are_unknown() -> None:
    # GIVEN a mysqld kill whose report had no task table
    _, lines = advise(event("mysqld", None), T3_LARGE)
    # THEN nothing says "0 MiB used by other services"
    text = " ".join(lines)
    assert "0 MiB used by other" not in text
    assert "other services' memory is unknown (no task table in the report)" in text


def test_a_recommendation_below_zero_names_the_figure_that_looks_wrong() -> None:
    # GIVEN a host whose RAM figure is wrong: 1 GiB, while the report's other tasks hold 8,000 MiB
    small = InstanceInfo("i-0abc12345def67890", instance_type="t3.micro", memory_mib=1024)
    rows = [("mysqld", 600), ("java", 8000)]
    # WHEN advice is computed
    _, lines = advise(event("mysqld", rows), small)
    # THEN no negative size is printed; the sentence says which figure looks wrong
    text = " ".join(lines)
    assert "~-" not in text and "innodb_buffer_pool_size=" not in text
    assert "MySQL/MariaDB: no size fits: 8,000 MiB of other services and the OS reserve leave nothing of" in text
    assert "the RAM figure looks wrong" in text


def test_a_cgroup_limit_above_host_ram_is_not_used_for_a_size() -> None:
    # GIVEN a memcg kill of php-fpm whose limit (16 GiB) is twice the host's RAM
    memcg = {"usage_kb": 16 * 1024 * 1024, "limit_kb": 16 * 1024 * 1024}
    ev = event("php-fpm8.1", [("php-fpm8.1", 500)] * 3, constraint="memcg", memcg=memcg)
    # WHEN advice is computed
    _, lines = advise(ev, T3_LARGE)
    # THEN it says the limit is more than the RAM instead of sizing a pool past the host
    assert lines[0] == (
        "PHP-FPM: the 16,384 MiB cgroup limit is more than the host's 8,192 MiB RAM; that figure looks wrong,"
        " so no size is advised."
    )


def test_docker_inside_lxc_whose_lxc_limit_was_hit_is_told_to_raise_the_lxc_limit() -> None:
    # GIVEN a docker container inside LXC container web1 (the cgroup layout oomwatch.cgroup documents), and the
    # LXC container's own limit hit: oom_memcg is the LXC cgroup, task_memcg the docker scope inside it
    task = f"/lxc.payload.web1/system.slice/docker-{DOCKER_ID}.scope"
    cgroup = {"oom_memcg": "/lxc.payload.web1", "task_memcg": task, "workload": classify(task)}
    memcg = {"usage_kb": 4 * 1024 * 1024, "limit_kb": 4 * 1024 * 1024}
    ev = event("node", [("node", 3000)], constraint="memcg", cgroup=cgroup, memcg=memcg)
    assert ev["cgroup"]["workload"]["kind"] == "docker"
    # WHEN advice is computed
    _, lines = advise(ev, T3_LARGE)
    text = " ".join(lines)
    # THEN the limit to raise is the LXC container's; the docker container is named as what ran inside it
    assert "--memory" not in text
    assert "raise limits.memory of container web1" in text
    assert "not the one of docker 58f8a9bf6a46 the victim ran in" in text
    assert "/lxc.payload.web1 reached 4,096 MiB" in text


def test_short_path_keeps_short_paths_and_cuts_long_ones_linearly() -> None:
    assert short_path("/mem2") == "/mem2"
    assert short_path(f"/system.slice/docker-{DOCKER_ID}.scope") == "/system.slice/docker-58f8a9bf6a46....scope"
    hostile = "/" + "x" * 100_000 + "/" + "f" * 100_000
    short = short_path(hostile)
    assert short == ".../ffffffffffff..." and len(short) < 70
