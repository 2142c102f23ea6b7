"""Formats read since issue 8: dmesg --reltime / -H, month names of other locales, earlyoom's older kill lines,
and lines read back out of CloudWatch Logs (aws logs tail, aws logs filter-log-events --output text).

The whole real report in each of these transports is in test_parser_transports.py (checked against the same
reference event as every other transport); here are what each format adds: times, hosts, streams, and that a
line from another sender stays userland.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import pytest
from oomwatch import OomParser, parse_lines, scan_binary
from oomwatch.transport import Record, _month, parse_line
from test_parser_transports import CW_STREAM, RECORDS, TRANSPORTS, _cw_events, _cw_tail

from tests.support.corpus import corpus_file, corpus_lines

KILL_04 = next(line for line in corpus_lines(corpus_file("04")) if "Killed process" in line)
LINES_04 = [t for rec in RECORDS for t in rec]
LINES_02 = [r.text for line in corpus_lines(corpus_file("02")) for r in parse_line(line)]

# -- dmesg --reltime / dmesg -H ------------------------------------------------------------------------------


def test_reltime_kill_has_the_minute_stamp_as_rough_time_and_no_invented_clock() -> None:
    (event,) = parse_lines(TRANSPORTS["dmesg --reltime"]())
    assert event["log_time"] == "Nov26 10:01"  # the minute the kill line fell in
    assert event["timestamp"] is None and event["uptime_s"] is None and event["host"] is None


def test_reltime_clock_adds_deltas_and_only_the_gap_two_minutes_prove() -> None:
    # GIVEN a minute stamp, two deltas, the next minute, and a minute three minutes later
    lines = ["[Nov26 10:00] a", "[  +0.250000] b", "[ +12.500000] c", "[Nov26 10:01] d", "[Nov26 10:04] e"]
    recs: list[Record] = []
    for line in lines:
        (rec,) = parse_line(line, recs[-1] if recs else None)
        recs.append(rec)
    walls = [r.wall for r in recs]
    assert all(r.kernel and r.uptime is None for r in recs) and [r.text for r in recs] == list("abcde")
    # THEN the deltas are added exactly; the next minute proves no gap; 10:01 -> 10:04 proves at least 120 s
    assert walls[1] - walls[0] == pytest.approx(0.25) and walls[2] - walls[1] == pytest.approx(12.5)
    assert walls[3] == walls[2]
    assert walls[4] - walls[3] == pytest.approx(120.0)
    assert [r.log_time for r in recs] == ["Nov26 10:00"] * 3 + ["Nov26 10:01", "Nov26 10:04"]


def test_reltime_reports_minutes_apart_do_not_share_a_trigger() -> None:
    # GIVEN corpus 04's report without its kill line, and 7 minutes later corpus 02's kill line alone
    body = [t for t in LINES_04 if "Killed process" not in t and "oom_reaper" not in t]
    lines = [f"[Nov26 10:00] {body[0]}", *(f"[  +0.000010] {t}" for t in body[1:])]
    lines.append(f"[Nov26 10:07] {next(t for t in LINES_02 if 'Killed process' in t)}")

    # WHEN parsed
    (event,) = parse_lines(lines)

    # THEN the late kill is its own report: doxygen's trigger and task table are not lent to it
    assert event["victim"]["comm"] == "unattended-upgr"
    assert event["trigger"] is None or event["trigger"].get("comm") != "doxygen"
    assert event["top_consumers"] == [] or "doxygen" not in {c["comm"] for c in event["top_consumers"]}


def test_reltime_relayed_userland_stays_userland() -> None:
    # systemd writes to /dev/kmsg while journald is down; dmesg -H shows it like kernel text
    (rec,) = parse_line("[  +0.000003] systemd[1]: batch-x.service: Failed with result 'oom-kill'.")
    assert (rec.kernel, rec.ident, rec.pid) == (False, "systemd", 1)
    assert rec.text == "batch-x.service: Failed with result 'oom-kill'."
    (rec,) = parse_line("[Nov26 10:00] mysqld[77]: " + KILL_04)
    assert (rec.kernel, rec.ident) == (False, "mysqld")
    assert parse_lines(["[Nov26 10:00] mysqld[77]: " + KILL_04]) == []


# -- month names of other locales ----------------------------------------------------------------------------

# glibc's %b (localedata abmon) in common locales, as journalctl's "%b %d %H:%M:%S" prints them.
ABMON = {
    "de_DE": "Jan Feb Mär Apr Mai Jun Jul Aug Sep Okt Nov Dez",
    "fr_FR": "janv. févr. mars avr. mai juin juil. août sept. oct. nov. déc.",
    "es_ES": "ene feb mar abr may jun jul ago sep oct nov dic",
    "it_IT": "gen feb mar apr mag giu lug ago set ott nov dic",
    "pt_BR": "jan fev mar abr mai jun jul ago set out nov dez",
    "ru_RU": "янв фев мар апр мая июн июл авг сен окт ноя дек",
    "uk_UA": "січ лют бер кві тра чер лип сер вер жов лис гру",
    "pl_PL": "sty lut mar kwi maj cze lip sie wrz paź lis gru",
    "cs_CZ": "led úno bře dub kvě čen čec srp zář říj lis pro",
    "nl_NL": "jan feb mrt apr mei jun jul aug sep okt nov dec",
    "sv_SE": "jan feb mar apr maj jun jul aug sep okt nov dec",
    "ja_JP": " 1月  2月  3月  4月  5月  6月  7月  8月  9月 10月 11月 12月",
    "zh_CN": "1月 2月 3月 4月 5月 6月 7月 8月 9月 10月 11月 12月",
    "ko_KR": " 1월  2월  3월  4월  5월  6월  7월  8월  9월 10월 11월 12월",
    "fi_FI": "tammi helmi maalis huhti touko kesä heinä elo syys loka marras joulu",
    "tr_TR": "Oca Şub Mar Nis May Haz Tem Ağu Eyl Eki Kas Ara",
}


@pytest.mark.parametrize("locale", list(ABMON))
def test_every_month_of_common_locales_is_known(locale: str) -> None:
    assert [_month(name) for name in ABMON[locale].split()] == list(range(1, 13))


@pytest.mark.parametrize(
    ("line", "host", "ident", "pid"),
    [
        # rfjakob/earlyoom#179 (journalctl, ru_RU)
        ("мар 27 23:40:33 PC earlyoom[21439]: pid   340: badness   0 vm_rss       0", "PC", "earlyoom", 21439),
        # rfjakob/earlyoom#269 (journalctl, fr_FR)
        (
            "mars 27 18:46:05 user-G3-3779-pro earlyoom[1460]: earlyoom v1.6.2-36-g7c17ac2",
            "user-G3-3779-pro",
            "earlyoom",
            1460,
        ),
        # rfjakob/earlyoom#264 (journalctl, ru_RU)
        ("ноя 17 19:15:25 PC nohang[3824]: Memory status that requires corrective actions:", "PC", "nohang", 3824),
        ("déc. 06 23:54:11 web-1 sshd[912]: Accepted publickey for admin", "web-1", "sshd", 912),
        ("12月 06 23:54:11 web-1 cron[77]: (root) CMD (run-parts /etc/cron.hourly)", "web-1", "cron", 77),
        (" 1月 06 23:54:11 web-1 cron[77]: (root) CMD (run-parts /etc/cron.hourly)", "web-1", "cron", 77),
    ],
)
def test_locale_stamped_program_lines_keep_their_sender(line: str, host: str, ident: str, pid: int) -> None:
    (rec,) = parse_line(line)
    assert (rec.kernel, rec.host, rec.ident, rec.pid) == (False, host, ident, pid)
    assert (
        rec.wall is not None
        and rec.log_time == line.strip()[: len(line.strip()) - len(rec.text)].split(f" {host} ")[0].strip()
    )


def test_locale_stamped_forged_kill_from_a_program_is_not_a_kernel_kill() -> None:
    lines = [f"déc. 06 23:54:11 web-1 mysqld[123]: {KILL_04}", f"Dez 06 23:54:11 web-1 kernel[9]: {KILL_04}"]
    assert [r.kernel for line in lines for r in parse_line(line)] == [False, False]
    assert parse_lines(lines) == []


def test_locale_stamped_earlyoom_kill_is_an_earlyoom_event() -> None:
    # the wording of rfjakob/earlyoom#309, from journalctl in fr_FR
    line = (
        "mars 27 18:46:05 user-G3-3779-pro earlyoom[1460]: sending SIGTERM to process 29410 uid 1000 "
        '"cluster": badness 1264, VmRSS 23964 MiB'
    )
    (event,) = parse_lines([line])
    assert event["source"] == "earlyoom" and event["host"] == "user-G3-3779-pro"
    assert (event["victim"]["pid"], event["victim"]["comm"]) == (29410, "cluster")
    assert event["log_time"] == "mars 27 18:46:05"


def test_a_line_that_merely_starts_like_a_stamp_is_not_one() -> None:
    # bare kernel text (dmesg -t, journalctl -o cat) whose first word is no month name stays kernel text
    for text in ("mem 12 10:00:00 x: y", "Lustre 12 10:00:00 a: b", "oom 1 10:00:00 host kernel: c"):
        (rec,) = parse_line(text)
        assert (rec.kernel, rec.ident, rec.text) == (True, None, text)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("mar 25 nov 23:59:59 2025", "mié 26 nov 00:00:00 2025"),  # es: util-linux's "%a %e %b %H:%M:%S %Y"
        ("mar. 25 nov. 23:59:59 2025", "mer. 26 nov. 00:00:00 2025"),  # fr, the same
        ("mar nov 25 23:59:59 2025", "mer nov 26 00:00:00 2025"),  # it: untranslated layout, Italian names
        ("11月25日(火) 23:59:59 2025", "11月26日(水) 00:00:00 2025"),  # ja: "%b%e日(%a) %H:%M:%S %Y"
    ],
)
def test_dmesg_t_tuesday_is_no_march_and_a_report_over_midnight_stays_whole(before: str, after: str) -> None:
    # GIVEN corpus 04's report printed by dmesg -T in a locale whose Tuesday is "mar", over midnight
    half = len(RECORDS) // 2
    lines = [f"[{before if n < half else after}] {t}" for n, rec in enumerate(RECORDS) for t in rec]

    # WHEN parsed
    (event,) = parse_lines(lines)

    # THEN one report, one second long: its trigger and task table belong to the kill
    assert event["trigger"]["comm"] == "doxygen" and len(event["top_consumers"]) == 5
    (first,) = parse_line(lines[0])
    (last,) = parse_line(lines[-1])
    assert first.wall is not None and last.wall is not None and last.wall - first.wall == 1.0


@pytest.mark.parametrize(
    "stamp",
    [
        "Wed 2025-11-26 10:00:00 UTC",  # journalctl -o short-full
        "mer. 2025-11-26 10:00:00 CET",  # the same, weekday in another language
        "1764151200.000010",  # journalctl -o short-unix
        "[44178.537749 <    0.000010>]",  # journalctl -o short-delta
    ],
)
def test_other_journalctl_stamps_keep_the_sender(stamp: str) -> None:
    (rec,) = parse_line(f"{stamp} web-1 mysqld[123]: {KILL_04}")
    assert (rec.kernel, rec.host, rec.ident, rec.pid) == (False, "web-1", "mysqld", 123)
    (rec,) = parse_line(f"{stamp} web-1 kernel: {KILL_04}")
    assert (rec.kernel, rec.host, rec.text) == (True, "web-1", KILL_04)
    assert parse_lines([f"{stamp} web-1 mysqld[123]: {KILL_04}"]) == []


# -- earlyoom's kill line in every release -------------------------------------------------------------------

EARLYOOM = [
    # (release, the kill line as kill.c / main.c printed it, pid, comm, signal, rss MiB)
    ("v0.1-v0.12", "Killing process 1234 (firefox)", 1234, "firefox", "SIGKILL", None),
    ("v1.0", "Killing process 1234 Web Content", 1234, "Web Content", "SIGKILL", None),
    ("v1.1", "Killing process: firefox, pid: 1234, badness: 600, VmRSS: 3000 MiB", 1234, "firefox", "SIGKILL", 3000),
    (
        "v1.2",
        "Killing process 'firefox' with signal 15, pid: 1234, badness: 600, VmRSS: 3000 MiB",
        1234,
        "firefox",
        "SIGTERM",
        3000,
    ),
    (
        "v1.3-rc1",
        'killing process 1234 "firefox" with signal 9: badness 600, VmRSS 3000 MiB',
        1234,
        "firefox",
        "SIGKILL",
        3000,
    ),
    (
        "v1.3",
        'sending SIGTERM to process 1234 "firefox": badness 600, VmRSS 3000 MiB',
        1234,
        "firefox",
        "SIGTERM",
        3000,
    ),
    # rfjakob/earlyoom#264
    (
        "v1.4-v1.7",
        'sending SIGKILL to process 3887 uid 1009 "java": badness 67, VmRSS 4352 MiB',
        3887,
        "java",
        "SIGKILL",
        4352,
    ),
    # rfjakob/earlyoom#344
    (
        "v1.8",
        'sending SIGTERM to process 1024668 uid 1000 "Web Content": oom_score 823, VmRSS 79 MiB, cmdline '
        '"/usr/lib/firefox/firefox -contentproc"',
        1024668,
        "Web Content",
        "SIGTERM",
        79,
    ),
]


@pytest.mark.parametrize(
    ("release", "text", "pid", "comm", "signal", "rss_mib"), EARLYOOM, ids=[e[0] for e in EARLYOOM]
)
def test_earlyoom_kill_line_of_every_release(
    release: str, text: str, pid: int, comm: str, signal: str, rss_mib: int | None
) -> None:
    lines = [
        "Nov 05 11:34:49 hybrid01 earlyoom[1105]: low memory! at or below SIGKILL limits: mem  2.00%, swap 100.00%",
        f"Nov 05 11:34:49 hybrid01 earlyoom[1105]: {text}",
    ]
    # oomwatch scan finds kill lines by " process " (C-speed find); v1.1's "Killing process: " has none, and a
    # second full-file search for one short-lived release would cost the scan about as much as the first.
    scanned = [] if release == "v1.1" else [list(scan_binary(io.BytesIO("\n".join(lines).encode())))]
    for events in (parse_lines(lines), *scanned):
        (event,) = events
        assert event["source"] == "earlyoom" and event["host"] == "hybrid01"
        assert (event["victim"]["pid"], event["victim"]["comm"], event["signal"]) == (pid, comm, signal)
        assert event["victim"]["rss_kb"] == (rss_mib * 1024 if rss_mib is not None else None)


@pytest.mark.parametrize("text", [e[1] for e in EARLYOOM], ids=[e[0] for e in EARLYOOM])
def test_earlyoom_wording_from_another_sender_is_no_kill(text: str) -> None:
    lines = [f"Nov 05 11:34:49 hybrid01 backup[77]: {text}", f"Nov 05 11:34:49 hybrid01 kernel: {text}"]
    assert parse_lines(lines) == []


# -- lines read back out of CloudWatch Logs ------------------------------------------------------------------


def test_cloudwatch_syslog_line_keeps_its_host_and_gets_the_event_time() -> None:
    (event,) = parse_lines(TRANSPORTS["aws logs tail, syslog file"]())
    assert event["host"] == "web-1" and event["uptime_s"] is not None
    assert event["timestamp"].startswith("2025-11-26T10:00:00.") and event["timestamp"].endswith("+00:00")
    assert event["log_time"] == "Nov 26 10:00:00"

    (event,) = parse_lines(TRANSPORTS["aws logs filter-log-events --output text"]())
    assert event["host"] == "web-1" and event["timestamp"].startswith("2025-11-26T10:00:00")


def test_cloudwatch_stream_is_the_host_when_the_line_names_none() -> None:
    # journalctl --no-hostname lines and journal entries without _HOSTNAME, read back with aws logs tail
    tail = [_cw_tail(n, f"Nov 26 10:00:00 kernel: {t}") for n, t in enumerate(LINES_04)]
    events = [_cw_events(n, f"Nov 26 10:00:00 kernel: {t}") for n, t in enumerate(LINES_04)]
    for lines in (tail, events):
        (event,) = parse_lines(lines)
        assert event["host"] == CW_STREAM and event["victim"]["comm"] == "doxygen"
        assert event["trigger"]["comm"] == "doxygen" and len(event["top_consumers"]) == 5


def test_cloudwatch_streams_interleaved_never_mix_reports() -> None:
    # GIVEN two instances whose syslog both say "localhost", interleaved line by line as aws logs tail sorts them
    a = [f"2025-11-26T10:00:00.000000+00:00 i-aaaa Nov 26 10:00:00 localhost kernel: {t}" for t in LINES_04]
    b = [f"2025-11-26T10:00:00.000000+00:00 i-bbbb Nov 26 10:00:00 localhost kernel: {t}" for t in LINES_02]
    mixed = [x for pair in zip(a, b, strict=False) for x in pair] + a[len(b) :] + b[len(a) :]

    # WHEN parsed together
    events = {e["victim"]["comm"]: e for e in parse_lines(mixed)}

    # THEN each kill has its own report
    assert events["doxygen"]["trigger"]["comm"] == "doxygen"
    assert events["unattended-upgr"]["trigger"]["comm"] == "kworker/0:2"
    assert {c["comm"] for c in events["unattended-upgr"]["top_consumers"]}.isdisjoint({"doxygen", "java"})


def test_cloudwatch_program_lines_stay_userland() -> None:
    tail = _cw_tail(0, f"Nov 26 10:00:00 web-1 mysqld[123]: {KILL_04}")
    short = f"2025-11-26T10:00:00 Nov 26 10:00:00 web-1 mysqld[123]: {KILL_04}"
    events = _cw_events(0, f"Nov 26 10:00:00 web-1 mysqld[123]: {KILL_04}")
    for line in (tail, short, events):
        (rec,) = parse_line(line)
        assert (rec.kernel, rec.ident, rec.pid, rec.host) == (False, "mysqld", 123, "web-1")
    # a CloudWatch event with no transport prefix says nothing of its sender: never kernel text
    (rec,) = parse_line(_cw_events(0, KILL_04))
    assert (rec.kernel, rec.host) == (False, CW_STREAM)
    assert parse_lines([tail, short, events, _cw_events(1, KILL_04)]) == []


def test_rsyslog_rfc3339_lines_are_not_taken_for_cloudwatch_lines() -> None:
    (rec,) = parse_line("2026-02-08T00:40:07.136582+00:00 largeweb2 systemd[1]: user-1021.slice: Consumed 1s CPU.")
    assert (rec.host, rec.ident, rec.pid, rec.log_stream) == ("largeweb2", "systemd", 1, None)


@pytest.mark.parametrize(
    "name",
    [
        "dmesg --reltime",
        "journalctl short, French",
        "aws logs tail, journald JSON",
        "filter-log-events text, journald JSON",
    ],
)
def test_oomwatch_scan_reads_the_new_formats(name: str) -> None:
    data = "\n".join(TRANSPORTS[name]()).encode()
    (event,) = scan_binary(io.BytesIO(data))
    assert event["victim"]["pid"] == 473206 and event["trigger"]["comm"] == "doxygen"


# -- cost: every new shape stays linear ----------------------------------------------------------------------

_TAIL = "2025-11-26T10:00:00.000000+00:00 "
ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "reltime, long text": lambda n: "[  +0.000001] " + "x" * n,
    "minute stamp look-alike": lambda n: "[" + "Nov 1 " * (n // 6) + "10:00]",
    "EVENTS, many tabs": lambda n: "EVENTS\t" + "1" * 20 + "\t1\t" + "s\t" * (n // 2),
    "aws logs tail nested in itself": lambda n: (_TAIL + "i-0 ") * (n // 37),
    "aws logs tail, open JSON strings": lambda n: _TAIL + "i-0 " + '{"body":"' * (n // 9),
    "locale month, spaces": lambda n: "déc." + " " * n,
    "CJK months": lambda n: "12月 " * (n // 4),
    "earlyoom v1.1, repeated separators": lambda n: (
        "Nov 26 10:00:00 h earlyoom[1]: Killing process: " + "a, pid: " * (n // 8)
    ),
    "earlyoom, repeated fields": lambda n: (
        'Nov 26 10:00:00 h earlyoom[1]: sending SIGTERM to process 1 "a": ' + "VmRSS 1, " * (n // 9)
    ),
}


def _seconds_per_byte(line: str, reps: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            parser = OomParser()
            parser.feed(line)
            parser.finish()
        best = min(best, (time.perf_counter() - start) / reps)
    return best / len(line)


@pytest.mark.parametrize("shape", list(ADVERSARIAL))
def test_new_formats_cost_linear_time(shape: str) -> None:
    # a quadratic path reads 32x per byte at 64 KiB against 2 KiB; 4x leaves room for a busy machine
    small = _seconds_per_byte(ADVERSARIAL[shape](2048), 32)
    large = _seconds_per_byte(ADVERSARIAL[shape](65536), 1)
    assert large <= 4 * small, f"{shape}: {large * 1e9:.1f} ns/B at 64 KiB vs {small * 1e9:.1f} ns/B at 2 KiB"
