"""Line layouts and report rules from docs/oom-formats.md, on verbatim lines quoted there and in the corpus."""

from __future__ import annotations

from typing import Any

import pytest
from oomwatch import parse_lines
from oomwatch.event import OomEvent

from tests.support.corpus import assert_valid, corpus_file, corpus_lines


def one(lines: list[str]) -> OomEvent:
    events = parse_lines(lines)
    assert len(events) == 1, events
    assert_valid(events[0])
    return events[0]


@pytest.mark.parametrize(
    ("line", "want"),
    [
        # RHEL 6 (corpus 09 in the formats reference)
        (
            "Mar  2 17:35:10 server1 kernel: [2858609.598568] Killed process 11726, UID 498, (mysqld) "
            "total-vm:7823732kB, anon-rss:2539268kB, file-rss:768kB",
            {"pid": 11726, "uid": 498, "comm": "mysqld", "anon_rss_kb": 2539268, "shmem_rss_kb": None},
        ),
        # RHEL 7.9
        (
            "Aug 16 20:29:54 hgzmm3cs239 kernel: Killed process 42424 (memcg_test_1), UID 0, total-vm:7296kB, "
            "anon-rss:96kB, file-rss:0kB, shmem-rss:0kB",
            {"pid": 42424, "uid": 0, "comm": "memcg_test_1", "shmem_rss_kb": 0},
        ),
        # 3.x - 4.4
        (
            "Aug 18 03:19:11 169 kernel: Killed process 7748 (python) total-vm:12907828kB, anon-rss:11500204kB, "
            "file-rss:0kB",
            {"pid": 7748, "uid": None, "total_vm_kb": 12907828, "oom_score_adj": None},
        ),
        # 4.5 - 5.0
        (
            "Killed process 1381 (gunpowder-memho) total-vm:2121528kB, anon-rss:18624kB, file-rss:2140kB, "
            "shmem-rss:0kB",
            {"pid": 1381, "comm": "gunpowder-memho", "rss_kb": 18624 + 2140},
        ),
        # 5.4+ with the message prefix
        (
            "[ 7063.247407] Memory cgroup out of memory: Killed process 63214 (uwsgi) total-vm:3149468kB, "
            "anon-rss:164992kB, file-rss:52176kB, shmem-rss:92kB, UID:0 pgtables:1372kB oom_score_adj:986",
            {"pid": 63214, "uid": 0, "pgtables_kb": 1372, "oom_score_adj": 986, "shmem_rss_kb": 92},
        ),
    ],
)
def test_every_killed_process_layout(line: str, want: dict[str, Any]) -> None:
    victim = one([line])["victim"]
    assert {k: victim[k] for k in want} == want


def test_comm_with_spaces_slashes_and_parentheses() -> None:
    # corpus 21's header comm has a space and a slash; comm is matched from the right on the kill line
    header = (
        "Jul 16 11:53:24 sau-3f41e-or kernel: [1310061.327439] CPU 0/KVM invoked oom-killer: "
        "gfp_mask=0x15000c0(GFP_KERNEL_ACCOUNT), nodemask=(null), order=0, oom_score_adj=0"
    )
    kill = (
        "Jul 16 11:53:25 sau-3f41e-or kernel: [1310061.400000] Out of memory: Killed process 1042 ((sd-pam)) "
        "total-vm:169864kB, anon-rss:1112kB, file-rss:8kB, shmem-rss:0kB"
    )
    event = one([header, kill])
    assert event["trigger"]["comm"] == "CPU 0/KVM"
    assert event["victim"]["comm"] == "(sd-pam)"


def test_header_with_two_spaces_before_order_and_rhel6_oom_adj() -> None:
    for header, adj in [
        (
            "[ 1573.878353] cp invoked oom-killer: gfp_mask=0x14000c0(GFP_KERNEL), nodemask=(null),  order=0, "
            "oom_score_adj=-998",
            -998,
        ),
        (
            "Nov 22 06:26:05 hostname kernel: sshd invoked oom-killer: gfp_mask=0x201da, order=0, oom_adj=-17, "
            "oom_score_adj=-1000",
            -1000,
        ),
    ]:
        kill = header.split(" invoked")[0].rsplit(" ", 1)[0] + (
            " Killed process 9 (x) total-vm:8kB, anon-rss:4kB, file-rss:4kB"
        )
        event = one([header, kill])
        assert event["trigger"]["oom_score_adj"] == adj and event["trigger"]["order"] == 0


def test_unknown_kill_layout_still_alerts_with_the_raw_line() -> None:
    # A future kernel adds a field before total-vm: the kill must not be lost.
    line = "Nov 26 10:00:00 web-1 kernel: Out of memory: Killed process 4242 (php-fpm) cgroup:/x total-vm:1kB"
    event = one([line])
    assert event["complete"] is False
    assert event["victim"]["pid"] == 4242 and event["victim"]["comm"] == "php-fpm"
    assert event["kill_line"] == line
    assert any("no known layout" in w for w in event["warnings"])


def test_garbled_kill_line_without_a_pid_is_still_an_event() -> None:
    event = one(["Nov 26 10:00:00 web-1 kernel: Killed process ???"])
    assert event["victim"]["pid"] is None and event["complete"] is False


def test_selected_pid_differs_from_killed_pid() -> None:
    # corpus 12: "Kill process 24572 ... or sacrifice child" then "Killed process 28438"
    (event,) = parse_lines(corpus_lines(corpus_file("12")))
    assert event["victim"]["pid"] == 28438
    assert any("selected pid 24572" in w for w in event["warnings"])


def test_oom_victim_already_exiting_is_not_a_kill() -> None:
    events = parse_lines(corpus_lines(corpus_file("32")))
    pids = {e["victim"]["pid"] for e in events}
    assert not pids & {138909, 138914, 138922}


def _report_26() -> list[str]:
    return [
        "[ 7093.543707] uwsgi invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=986",
        "[ 7093.543711] CPU: 4 PID: 63635 Comm: uwsgi Not tainted 5.4.0-77-generic #86-Ubuntu",
        "[ 7093.543800] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
        "oom_memcg=/kubepods/burstable/pod951f6bc5-c5a5-11ea-8707-80e455f266a2,"
        "task_memcg=/kubepods/burstable/pod951f6bc5-c5a5-11ea-8707-80e455f266a2/"
        "024952d653ef1cd852f875a61bd27cf45cb1fd6cab3659ca7e5f12f03e9f5d1a,task=uwsgi,pid=63214,uid=0",
    ]


KILLED_63214 = (
    "[ 7093.547407] Memory cgroup out of memory: Killed process 63214 (uwsgi) total-vm:3149468kB, "
    "anon-rss:164992kB, file-rss:52176kB, shmem-rss:92kB, UID:0 pgtables:1372kB oom_score_adj:986"
)


def test_memory_oom_group_kills_every_task_and_the_first_victim_counts_once() -> None:
    group = (
        "[ 7093.547000] Tasks in /kubepods/burstable/pod951f6bc5-c5a5-11ea-8707-80e455f266a2 are going to be "
        "killed due to memory.oom.group set"
    )
    second = KILLED_63214.replace("63214", "63215").replace("3149468", "3149400")
    lines = [*_report_26(), KILLED_63214, group, KILLED_63214, second]
    events = parse_lines(lines)
    assert [e["victim"]["pid"] for e in events] == [63214, 63215]
    assert all(e["cgroup"]["oom_group"].endswith("80e455f266a2") for e in events[1:])
    assert events[1]["trigger"]["comm"] == "uwsgi"


def test_pr_cont_fragments_of_the_summary_are_joined() -> None:
    lines = _report_26()
    summary = lines[2]
    cut = summary.index(",task=")
    lines[2:3] = [summary[:cut], "[ 7093.543801] " + summary[cut:].split("] ", 1)[-1]]
    event = one([*lines, KILLED_63214])
    assert event["constraint"] == "memcg"
    assert event["cgroup"]["oom_memcg"].endswith("80e455f266a2")
    assert event["cgroup"]["workload"]["kind"] == "kubernetes"


def test_summary_constraints_map_to_the_event_enum() -> None:
    for raw, want in [
        ("CONSTRAINT_NONE", "global"),
        ("CONSTRAINT_CPUSET", "cpuset"),
        ("CONSTRAINT_MEMORY_POLICY", "mempolicy"),
        ("CONSTRAINT_BPF_PSI_MEM", "unknown"),
    ]:
        lines = _report_26()
        lines[2] = lines[2].replace("CONSTRAINT_MEMCG", raw)
        assert one([*lines, KILLED_63214])["constraint"] == want, raw


def test_oom_reaper_after_the_next_reports_header_still_attaches() -> None:
    # corpus 26's order: kill, the next report's header, then the reaper line of the first kill
    lines = [
        *_report_26(),
        KILLED_63214,
        "[ 7093.600000] uwsgi invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=986",
        "[ 7093.610000] oom_reaper: reaped process 63214 (uwsgi), now anon-rss:0kB, file-rss:0kB, shmem-rss:92kB",
    ]
    assert one(lines)["reaped"] is True
    lines[-1] = "[ 7093.610000] oom_reaper: unable to reap pid:63214 (uwsgi)"
    assert one(lines)["reaped"] is False
    assert one(lines[:-1])["reaped"] is None


def test_a_header_long_before_the_kill_is_another_report() -> None:
    # The header of a report whose kill is not in the log, and 10 minutes later a kill without header.
    lines = [_report_26()[0], KILLED_63214.replace("[ 7093.547407]", "[ 7700.000000]")]
    event = one(lines)
    assert event["trigger"] is None and event["complete"] is False


def test_a_chatty_kernel_does_not_carry_an_unfinished_report_to_a_later_kill() -> None:
    # GIVEN corpus 26's second report, cut off in its stack (its kill is not in the log), then a kernel line
    # every 5 seconds for 2 minutes (a firewall logging drops), then a real kill line from corpus 32
    head = [line for line in corpus_lines(corpus_file("26")) if line.startswith("[ 7093.")]
    noise = [f"[ {7094 + 5 * n}.000000] [UFW BLOCK] IN=ens5 OUT= SRC=10.0.0.9 DST=10.0.0.5 PROTO=TCP DPT=22"
             for n in range(24)]  # fmt: skip
    kill = next(x for x in corpus_lines(corpus_file("32")) if "Killed process 137878" in x)
    later = kill.replace("[17657.203746]", "[ 7215.000000]")

    # WHEN they are parsed in order
    event = one([*head, *noise, later])

    # THEN the kill does not borrow the unfinished report's trigger, stack or noise
    assert event["victim"]["comm"] == "mount"
    assert event["trigger"] is None and event["complete"] is False
    assert event["lines"] == [later]


def test_a_kill_line_right_after_its_report_belongs_to_it() -> None:
    # GIVEN the same unfinished report and, 2 seconds after its last line, a kill (the kill-gap boundary's other side)
    head = [line for line in corpus_lines(corpus_file("26")) if line.startswith("[ 7093.")]
    kill = next(x for x in corpus_lines(corpus_file("32")) if "Killed process 137878" in x)

    # WHEN parsed
    event = one([*head, kill.replace("[17657.203746]", "[ 7095.600000]")])

    # THEN the report's header names the trigger
    assert event["trigger"]["comm"] == "uwsgi"


def test_page_size_from_the_victims_row() -> None:
    # 64 kB pages (arm64/ppc64le): the row's total_vm in pages times 64 equals the kill line's total-vm kB.
    lines = [
        "[  100.000000] java invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
        "[  100.000001] Tasks state (memory values in pages):",
        "[  100.000002] [  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name",
        "[  100.000003] [   4242]  1000  4242    49212    20000   376832        0             0 java",
        "[  100.000004] [   4300]     0  4300     1000      500    65536        0             0 sshd",
        "[  100.000005] Out of memory: Killed process 4242 (java) total-vm:3149568kB, anon-rss:1270000kB, "
        "file-rss:10000kB, shmem-rss:0kB, UID:1000 pgtables:368kB oom_score_adj:0",
    ]
    event = one(lines)
    assert event["page_kb"] == 64
    assert event["top_consumers"][0] == {"pid": 4242, "comm": "java", "rss_kb": 20000 * 64}


def test_task_table_rows_with_seven_digit_pids_and_names_with_spaces() -> None:
    lines = [
        *corpus_lines(corpus_file("41")),
        "[Sat Aug 15 12:18:59 2026] Memory cgroup out of memory: Killed process 3820126 (mount.efs) "
        "total-vm:118392kB, anon-rss:13328kB, file-rss:22532kB, shmem-rss:0kB, UID:0 pgtables:136kB "
        "oom_score_adj:-997",
    ]
    event = one(lines)
    assert event["trigger"]["comm"] == "mount.efs"
    assert 3820126 in {c["pid"] for c in event["top_consumers"]}


def test_systemd_unit_result_names_the_unit_of_a_kill_and_is_not_a_kill() -> None:
    kill = (
        "May 17 11:21:16 test-digitalocean-fedora32-x64-1 kernel: Out of memory: Killed process 1234 (java) "
        "total-vm:4000000kB, anon-rss:2000000kB, file-rss:0kB, shmem-rss:0kB, UID:1001 pgtables:4000kB "
        "oom_score_adj:0"
    )
    event = one([kill, *corpus_lines(corpus_file("46"))])
    # In a text log the sender cannot be verified: the unit is shown, never used
    # (tests/unit/oomwatch/test_parser_trust.py has the journal, where PID 1 makes it the kill's unit).
    assert event["units"] == [] and event["cgroup"] is None
    assert [(c["unit"], c["verified"]) for c in event["systemd_context"]] == [("jenkins.service", False)]
    assert parse_lines(corpus_lines(corpus_file("46"))) == []


def test_systemd_oomd_wordings() -> None:
    # corpus 47: v247-v253 "Killed <cgroup> due to memory pressure ..."
    (old,) = parse_lines(corpus_lines(corpus_file("47")))
    assert old["source"] == "systemd-oomd" and old["victim"]["pid"] == -1
    assert old["cgroup"]["workload"]["kind"] == "user-unit"
    # v254+: "Marked <cgroup> for killing ...", then debug "oomd attempting to kill <pid> with <SIG>" lines
    newer = [
        "2026-08-07T10:58:01+0000 box systemd-oomd[726]: Considered 21 cgroups for killing, top candidates were:",
        "2026-08-07T10:58:01+0000 box systemd-oomd[726]: Marked /system.slice/nix-daemon.service for killing due to "
        "memory pressure for /system.slice being 65.15% > 50.00% for > 20s with reclaim activity",
        "2026-08-07T10:58:01+0000 box systemd-oomd[726]: oomd attempting to kill 372146 with KILL",
        "2026-08-07T10:58:01+0000 box systemd-oomd[726]: oomd attempting to kill 372150 with KILL",
        "2026-08-07T10:58:01+0000 box systemd[1]: nix-daemon.service: systemd-oomd killed 2 process(es) in this unit.",
    ]
    event = one(newer)
    assert event["victim"]["comm"] == "nix-daemon.service"
    assert event["victim"]["pids"] == [372146, 372150] and event["victim"]["pid"] == 372146
    assert event["timestamp"] == "2026-08-07T10:58:01+00:00"
    # swap wording
    swap = (
        "19:46:58 x systemd-oomd[726]: Marked /user.slice/user-1000.slice/user@1000.service/app.slice/"
        "app-graphical.slice/app-Hyprland-xdg-ea541d95.scope for killing due to memory used (16260780032) / total "
        "(16419115008) and swap used (29560922112) / total (32838500352) being more than 90.00%"
    )
    assert one(["Aug 10 " + swap])["message"].startswith("memory used")


def test_earlyoom_sigterm_then_sigkill_is_one_kill() -> None:
    lines = [
        "Aug 10 07:28:03 dl earlyoom[1479]: mem avail: 11988 of 128683 MiB ( 9.32%), swap free:    0 of    0 MiB",
        'Aug 10 07:28:03 dl earlyoom[1479]: sending SIGTERM to process 1639069 uid 991 "rustc": oom_score 1331, '
        'oom_score_adj 500, VmRSS 3287 MiB, cmdline "..."',
        "Aug 10 07:28:04 dl earlyoom[1479]: escalating to SIGKILL after 0.5 seconds",
        'Aug 10 07:28:04 dl earlyoom[1479]: sending SIGKILL to process 1639069 uid 991 "rustc": oom_score 1331, '
        'oom_score_adj 500, VmRSS 3287 MiB, cmdline "..."',
    ]
    event = one(lines)
    assert event["victim"] | {} == event["victim"]
    assert (event["victim"]["pid"], event["victim"]["uid"], event["victim"]["comm"]) == (1639069, 991, "rustc")
    assert event["victim"]["rss_kb"] == 3287 * 1024 and event["victim"]["oom_score_adj"] == 500
    assert event["signal"] == "SIGKILL"


def test_rsyslog_escaped_multiline_mem_info_does_not_hide_the_report() -> None:
    # corpus 01 carries rsyslog '#012' escapes in its Mem-Info line
    (event,) = parse_lines(corpus_lines(corpus_file("01")))
    assert event["trigger"]["comm"] == "sed" and event["complete"] is True


def test_systemd_oomd_before_v254_logs_the_attempts_before_the_kill_line() -> None:
    lines = [
        "[   77.740597] host systemd-oomd[659]: oomd attempting to kill 407 with KILL",
        "[   77.749597] host systemd-oomd[659]: Killed /user.slice/user-1000.slice/user@1000.service/app.slice/"
        "app-term-4242.scope due to memory used (3.8G) / total (3.9G) and swap used (0.9G) / total (1.0G) being "
        "more than 90.00%",
    ]
    event = one(lines)
    assert event["victim"]["pid"] == 407 and event["victim"]["comm"] == "app-term-4242.scope"
    assert event["host"] == "host"


def test_vmware_guest_log_wrapper() -> None:
    # corpus 37's wrapper: the guest's kmsg lines inside vmware.log
    wrap = "2023-12-04T10:49:30.127Z In(05) vcpu-5 - Guest: "
    lines = [
        wrap + "<4>[39291576.900000] node invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), "
        "order=0, oom_score_adj=0",
        wrap + "<6>[39291577.009528] [  19331]  1000 19331   226026    29603  1314816        0           999 npm start",
        wrap + "<3>[39291577.100000] Out of memory: Killed process 19331 (npm start) total-vm:904104kB, "
        "anon-rss:118412kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:1284kB oom_score_adj:999",
    ]
    event = one(lines)
    assert event["victim"]["comm"] == "npm start" and event["trigger"]["comm"] == "node"
    assert event["top_consumers"] == [{"pid": 19331, "comm": "npm start", "rss_kb": 29603 * 4}]


def test_a_bug_while_building_an_event_still_yields_the_kill(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a parser whose event building fails (a bug of ours, simulated)
    import oomwatch.builders as builders

    def broken(*_: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(builders, "_constraint", broken)

    # WHEN a real kill is parsed
    event = one(corpus_lines(corpus_file("43")))

    # THEN the kill is still reported, with its raw line and the reason
    assert event["kill_line"].endswith("oom_score_adj:1000") and event["complete"] is False
    assert any("internal error" in w for w in event["warnings"])


def test_figures_no_kernel_prints_are_left_out_not_reported() -> None:
    # A garbled (or forged-through-kmsg) kill line with an oom_score_adj outside the kernel's -1000..1000.
    line = KILLED_63214.replace("oom_score_adj:986", "oom_score_adj:1527848")
    event = one([line])
    assert event["victim"]["oom_score_adj"] is None
    assert any("outside -1000..1000" in w for w in event["warnings"])
