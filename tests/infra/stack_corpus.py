"""Log lines for the filter tests: the shared OOM corpus, what kind each line is, and ordinary noise.

The kinds are written here, in plain Python, from the list of lines the parser needs (issue 3 and
``docs/oom-formats.md``), independently of the RE2 filters under test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@cache
def corpus_files() -> tuple[Path, ...]:
    files = tuple(sorted(CORPUS.glob("*.log")))
    assert files, f"the shared OOM corpus is missing at {CORPUS}"
    return files


@cache
def corpus_lines(path: Path) -> tuple[str, ...]:
    """The file's log lines: ``# `` comment lines (and ``# ...`` gap markers) and blank lines dropped."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return tuple(line for line in text.split("\n") if line.strip() and not (line.startswith("# ") or line == "#"))


def all_corpus_lines() -> Iterator[tuple[str, str]]:
    for path in corpus_files():
        for line in corpus_lines(path):
            yield path.name, line


def expected_kills(path: Path) -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads((CORPUS / "expected" / f"{path.stem}.json").read_text())
    return list(data["kills"])


def _contains(*needles: str) -> Callable[[str], bool]:
    return lambda line: all(needle in line for needle in needles)


def _search(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern)
    return lambda line: compiled.search(line) is not None


#: Lines of a kernel OOM report the parser uses (issue 3's list), by kind.
KERNEL_KINDS: dict[str, Callable[[str], bool]] = {
    "invoked oom-killer header": _contains(" invoked oom-killer: "),
    "cpuset/mems_allowed line": _search(r" cpuset=\S* mems_allowed="),
    "dump_stack header": _search(r"CPU: \d+ (UID: \d+ )?PID: \d+ Comm: |Pid: \d+, comm: "),
    "oom-kill summary": _contains("oom-kill:constraint="),
    "Task in ... killed as a result of limit": _contains("killed as a result of limit of"),
    "memory usage": _search(r"\bmemory: usage \d+kB"),
    "memory+swap usage": _contains("memory+swap: usage"),
    "swap usage": _search(r"(?<!\+)\bswap: usage \d+kB"),
    "Memory cgroup stats header": _contains("Memory cgroup stats for "),
    "Tasks state title": _contains("Tasks state (memory values in pages)"),
    "task table header": _search(r"\[\s*pid\s*\]\s+uid\s+tgid\s+total_vm"),
    "task table row": _search(r"\[\s*\d+\]\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+"),
    "Kill process": _search(r"Kill process \d+ \("),
    "Killed process": _contains("Killed process "),
    "oom_reaper": _contains("oom_reaper: "),
    "memory.oom.group": _contains("memory.oom.group"),
    "OOM victim": _contains("OOM victim "),
    "Out of memory": _search(r"[Oo]ut of memory"),
}

#: Userspace OOM lines: systemd-oomd, earlyoom, and systemd's notes on units hit by a kernel kill.
USERLAND_KINDS: dict[str, Callable[[str], bool]] = {
    "systemd-oomd": _contains("systemd-oomd"),
    "earlyoom": _contains("earlyoom"),
    "Failed with result 'oom-kill'": _contains("Failed with result 'oom-kill'"),
    "killed by the OOM killer": _contains("killed by the OOM killer"),
}

ALL_KINDS = {**KERNEL_KINDS, **USERLAND_KINDS}

#: Real formats of kinds the corpus in this folder does not show (from oom-formats.md, systemd and
#: earlyoom sources), so every kind is tested on at least one line.
SUPPLEMENT: tuple[str, ...] = (
    "[   52.841431] Tasks in /A1 are going to be killed due to memory.oom.group set",
    "Feb 21 09:12:01 ip-10-0-1-23 kernel: [ 811.190310] Memory cgroup out of memory: Killed process 2211 (java) "
    "total-vm:4194304kB, anon-rss:1048576kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:2400kB oom_score_adj:0",
    "Feb 21 09:12:01 ip-10-0-1-23 kernel: [ 811.190399] oom_reaper: reaped process 2211 (java), now anon-rss:0kB, "
    "file-rss:0kB, shmem-rss:0kB",
    'Feb 21 09:15:44 ip-10-0-1-23 earlyoom[712]: sending SIGTERM to process 4242 uid 1000 "chrome": oom_score 812, '
    "VmRSS 2048 MiB",
    'Feb 21 09:15:44 ip-10-0-1-23 earlyoom[712]: sending SIGKILL to process 4242 uid 1000 "chrome": oom_score 812, '
    "VmRSS 2048 MiB",
    "Feb 21 09:15:44 ip-10-0-1-23 earlyoom[712]: low memory! at or below SIGTERM limits: mem 10.00%, swap 5.00%",
    "Feb 21 09:20:13 ip-10-0-1-23 systemd-oomd[659]: Killed /system.slice/batch.service due to memory used "
    "(8123456512) / total (8254390272) and swap used (2147479552) / total (2147479552) being more than 90.00%",
    "Feb 21 09:20:13 ip-10-0-1-23 systemd-oomd[659]: Marked /system.slice/batch.service for killing due to memory "
    "pressure for /system.slice being 71.20% > 60.00% for > 20s with reclaim activity",
    "[   77.749597] systemd-oomd[659]: oomd attempting to kill 407 with KILL",
    "Feb 21 09:20:13 ip-10-0-1-23 systemd[1]: batch.service: systemd-oomd killed 3 process(es) in this unit.",
    "Feb 21 09:30:02 ip-10-0-1-23 kernel: [ 999.000001] Out of memory and no killable processes...",
    "Feb 21 09:31:10 ip-10-0-1-23 kernel: oom_reaper: unable to reap pid:2211 (java)",
)

#: Ordinary syslog: none of it may reach CloudWatch in ``oom`` mode, nor the Lambda in any mode.
NOISE: tuple[str, ...] = (
    "Mar  3 10:15:01 ip-10-0-1-23 CRON[12345]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
    "Mar  3 10:15:02 ip-10-0-1-23 sshd[2345]: Accepted publickey for ec2-user from 203.0.113.7 port 52144 ssh2: "
    "RSA SHA256:Yx0dPDs2qTq9xZ4m",
    "Mar  3 10:15:02 ip-10-0-1-23 sshd[2345]: pam_unix(sshd:session): session opened for user ec2-user(uid=1000) by "
    "(uid=0)",
    "Mar  3 10:15:03 ip-10-0-1-23 sshd[2399]: Invalid user admin from 198.51.100.23 port 40122",
    "Mar  3 10:15:03 ip-10-0-1-23 systemd[1]: Started Session 42 of User ec2-user.",
    "Mar  3 10:15:03 ip-10-0-1-23 systemd[1]: Starting Daily apt download activities...",
    "Mar  3 10:15:03 ip-10-0-1-23 systemd[1]: apt-daily.service: Succeeded.",
    "Mar  3 10:15:03 ip-10-0-1-23 systemd[1]: nginx.service: Main process exited, code=exited, status=1/FAILURE",
    "Mar  3 10:15:03 ip-10-0-1-23 systemd[1]: nginx.service: Failed with result 'exit-code'.",
    "Mar  3 10:15:03 ip-10-0-1-23 systemd-logind[650]: New session 42 of user ec2-user.",
    "Mar  3 10:15:04 ip-10-0-1-23 dhclient[812]: DHCPREQUEST on eth0 to 10.0.0.1 port 67 (xid=0x1234abcd)",
    "Mar  3 10:15:04 ip-10-0-1-23 dhclient[812]: bound to 10.0.1.23 -- renewal in 1680 seconds.",
    "Mar  3 10:15:05 ip-10-0-1-23 nginx[1234]: 2024/03/03 10:15:05 [error] 1234#1234: *5 connect() failed "
    "(111: Connection refused) while connecting to upstream, client: 10.0.0.5, server: _",
    'Mar  3 10:15:05 ip-10-0-1-23 nginx: 10.0.0.5 - - [03/Mar/2024:10:15:05 +0000] "GET /health HTTP/1.1" 200 2 '
    '"-" "ELB-HealthChecker/2.0"',
    "Mar  3 10:15:06 ip-10-0-1-23 kernel: [ 1234.567890] EXT4-fs (nvme0n1p1): mounted filesystem with ordered data "
    "mode. Opts: (null)",
    "Mar  3 10:15:06 ip-10-0-1-23 kernel: [ 1234.567891] ena 0000:00:05.0 eth0: Link is up",
    "Mar  3 10:15:07 ip-10-0-1-23 kernel: [ 1235.000001] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready",
    'Mar  3 10:15:07 ip-10-0-1-23 kernel: [ 1235.100000] audit: type=1400 audit(1709460907.123:45): apparmor="STATUS" '
    'operation="profile_load" name="/usr/sbin/chronyd" pid=789 comm="apparmor_parser"',
    "Mar  3 10:15:07 ip-10-0-1-23 kernel: [ 1235.200000] docker0: port 1(veth1234) entered forwarding state",
    "Mar  3 10:15:07 ip-10-0-1-23 kernel: [ 1235.300000] TCP: request_sock_TCP: Possible SYN flooding on port 443. "
    "Sending cookies.  Check SNMP counters.",
    "Mar  3 10:15:07 ip-10-0-1-23 kernel: [    0.000000] Memory: 3967352K/4193784K available (14339K kernel code, "
    "2349K rwdata, 8936K rodata, 2636K init, 4972K bss, 226172K reserved, 0K cma-reserved)",
    "Mar  3 10:15:07 ip-10-0-1-23 kernel: [ 1236.000000] nvme nvme0: 2/0/0 default/read/poll queues",
    "Mar  3 10:15:08 ip-10-0-1-23 amazon-ssm-agent[1100]: 2024-03-03 10:15:08 INFO [ssm-agent-worker] "
    "[MessagingDeliveryService] Number of documents to process: 0",
    "Mar  3 10:15:08 ip-10-0-1-23 chronyd[700]: Selected source 169.254.169.123",
    'Mar  3 10:15:09 ip-10-0-1-23 dockerd[900]: time="2024-03-03T10:15:09.1Z" level=info msg="Container started" '
    "container=4f1e2d",
    'Mar  3 10:15:09 ip-10-0-1-23 containerd[880]: time="2024-03-03T10:15:09Z" level=info msg="shim disconnected" '
    "id=4f1e2d namespace=moby",
    'Mar  3 10:15:10 ip-10-0-1-23 kubelet[990]: I0303 10:15:10.123456     990 kubelet.go:2440] "SyncLoop (PLEG): '
    'event for pod" pod="default/web-1"',
    'Mar  3 10:15:10 ip-10-0-1-23 rsyslogd[700]: [origin software="rsyslogd" swVersion="8.2112.0" x-pid="700" '
    'x-info="https://www.rsyslog.com"] rsyslogd was HUPed',
    "Mar  3 10:15:11 ip-10-0-1-23 sudo[3000]:  ec2-user : TTY=pts/0 ; PWD=/home/ec2-user ; USER=root ; "
    "COMMAND=/usr/bin/systemctl status nginx",
    "Mar  3 10:15:11 ip-10-0-1-23 postfix/smtpd[2000]: connect from localhost[127.0.0.1]",
    "Mar  3 10:15:12 ip-10-0-1-23 cloud-init[1500]: Cloud-init v. 23.1 finished at Sun, 03 Mar 2024 10:15:12 "
    "+0000. Datasource DataSourceEc2Local.  Up 31.05 seconds",
    "2026-03-03T10:15:13.123456+00:00 ip-10-0-1-23 systemd[1]: Finished Daily Cleanup of Temporary Directories.",
    "2026-03-03T10:15:13.223456+00:00 ip-10-0-1-23 systemd-journald[375]: Journal stopped",
    "Mar  3 10:15:14 ip-10-0-1-23 java[4242]: 2024-03-03 10:15:14.003 WARN  [pool-1] c.e.Cache - eviction took 2034 ms",
    "Mar  3 10:15:14 ip-10-0-1-23 postgres[5555]: [5-1] 2024-03-03 10:15:14 UTC LOG:  checkpoint complete: wrote 12 "
    "buffers (0.1%)",
)

_KERNEL_TEXT = re.compile(
    r"^(?:.*?\bkernel: )?(?:<\d>)?(?:\[\s*\d+\.\d+\]\s|\[[A-Z][a-z]{1,2} [A-Z][a-z]{2} [ \d]\d [\d:]{8} \d{4}\]\s)?"
)


def kernel_text(line: str) -> str:
    """The message as journald stores it: no syslog prefix, no ``[uptime]`` (best effort)."""
    return _KERNEL_TEXT.sub("", line, count=1)


def go_json(value: Any) -> str:
    """JSON the way Go's encoding/json writes a map: sorted keys, compact, ``<``/``>``/``&`` escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def journal_body(message: str, *, transport: str = "kernel", identifier: str = "kernel") -> dict[str, str]:
    """A journal entry's fields as the agent's journald receiver puts them in the log body."""
    return {
        "MESSAGE": message,
        "PRIORITY": "3",
        "SYSLOG_FACILITY": "0" if transport == "kernel" else "3",
        "SYSLOG_IDENTIFIER": identifier,
        "_BOOT_ID": "3f0d7c1a9b2e4d5f8a6b7c8d9e0f1a2b",
        "_HOSTNAME": "ip-10-0-1-23.eu-west-1.compute.internal",
        "_MACHINE_ID": "ec2a1b2c3d4e5f60718293a4b5c6d7e8",
        "_SOURCE_MONOTONIC_TIMESTAMP": "811190310",
        "_TRANSPORT": transport,
        "__CURSOR": "s=1a2b;i=4f2;b=3f0d;m=305a1c;t=61b2;x=9c1e",
        "__MONOTONIC_TIMESTAMP": "811190411",
        "__REALTIME_TIMESTAMP": "1771665121190411",
    }


def journald_event(body: dict[str, str]) -> str:
    """The CloudWatch Logs event the agent's journald path writes: a JSON envelope around the body."""
    return go_json(
        {
            "body": body,
            "severity_number": 17,
            "severity_text": "",
            "attributes": {},
            "resource": {"host.name": body["_HOSTNAME"]},
        }
    )
