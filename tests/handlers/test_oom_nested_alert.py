"""Nested memory cgroups: the advice goes to the cgroup whose limit was hit (``oom_memcg``), with the victim's
own, inner workload as context. The cgroup lines are real (tests/corpus 33: a Kubernetes node inside LXC; 38:
Talos, kubepods inside the docker cgroup); each corpus excerpt stops before the kill line, so the test adds the
two lines such a report carries next (the usage/limit line and the kill line, in the layout of the same kernel
era, figures made up and said so here)."""

from __future__ import annotations

from handler_kit import FIXED_MS, Clock, Invoke, World, corpus_lines, flat, log_events, payload, rendered, snapshot


def _deliver(world: World, invoke_oom: Invoke, clock: Clock, lines: list[str]) -> str:
    clock.now = FIXED_MS / 1000
    invoke_oom(payload(world.instances["web-1"], log_events(lines, FIXED_MS - len(lines))))
    [sent] = world.sent()
    return rendered(sent, world)


def test_pod_limit_inside_lxc_is_advised_on_the_pod_not_the_container(
    world: World, invoke_oom: Invoke, clock: Clock
) -> None:
    # GIVEN corpus 33's oom-kill summary (oom_memcg = the pod slice, task_memcg = a containerd scope in it)
    [summary] = corpus_lines("33_")
    stamp = summary.split(" kernel: ", 1)[0]
    lines = [
        f"{stamp} kernel: memory: usage 2097152kB, limit 2097152kB, failcnt 5321",
        summary,
        f"{stamp} kernel: Memory cgroup out of memory: Killed process 461754 (pt_main_thread)"
        " total-vm:9000000kB, anon-rss:2070000kB, file-rss:4000kB, shmem-rss:0kB, UID:0 pgtables:4500kB"
        " oom_score_adj:985",
    ]

    # WHEN the report is delivered
    text = _deliver(world, invoke_oom, clock, lines)

    # THEN the subject gives the share of the limit that was hit, and the advice names the pod's limit
    subject = text.split("\n", 1)[0]
    assert subject.endswith(" 2.0 GiB, 99% of its 2.0 GiB limit"), subject
    words = flat(text)
    assert "That limit is the enclosing kubernetes pod eded8c65-6e8e-4c6e-a889-3e427565c740's" in words
    assert "the memory limits of pod eded8c65-6e8e-4c6e-a889-3e427565c740's containers" in words
    snapshot("kill_memcg_nested_pod_in_lxc.txt", text)


def test_docker_cgroup_limit_is_advised_on_docker_not_on_the_pod_inside(
    world: World, invoke_oom: Invoke, clock: Clock
) -> None:
    # GIVEN corpus 38's Task in line (the victim deep in kubepods, the limit of /system/docker hit)
    [task_in] = corpus_lines("38_")
    lines = [
        "<6>[ 1205.517880] memory: usage 4194304kB, limit 4194304kB, failcnt 77",
        task_in,
        "<3>[ 1205.517990] Memory cgroup out of memory: Kill process 9021 (java) score 1002 or sacrifice child",
        "<3>[ 1205.518101] Killed process 9021 (java) total-vm:6600000kB, anon-rss:3100000kB, file-rss:20000kB,"
        " shmem-rss:0kB",
    ]

    # WHEN it is delivered
    text = _deliver(world, invoke_oom, clock, lines)

    snapshot("kill_memcg_nested_docker_cgroup.txt", text)
    # THEN the limit to raise is the docker cgroup's, and the pod is named only as what ran inside it
    words = flat(text)
    assert "Raise memory.max (v2) / memory.limit_in_bytes (v1) of docker" in words or "of docker" in words
    assert "resources.limits.memory" not in words
    assert "not the one of kubernetes pod 6687d6d7-fcae-11e8-b0b0-5e61144ba466" in words
