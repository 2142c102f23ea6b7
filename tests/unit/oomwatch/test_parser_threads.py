"""Parsers share no mutable state: two parsers in two threads read exactly what each reads alone."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from oomwatch import OomParser
from oomwatch.event import OomEvent
from oomwatch.transport import KernelPrefix, parse_line

from tests.support.corpus import corpus_files, corpus_lines


def _classic(path: Path, host: str) -> list[str]:
    """The corpus report as classic syslog from ``host``: every line carries the "Mon DD HH:MM:SS host kernel: "
    prefix that the per-parser reading hint remembers."""
    out = []
    for line in corpus_lines(path):
        text = next((r.text for r in parse_line(line) if r.kernel), None)
        if text is not None:
            out.append(f"Nov 26 10:00:0{len(host) % 10} {host} kernel: {text}")
    return out


def _parse(lines: list[str], stream: str) -> list[OomEvent]:
    p = OomParser()
    for i, line in enumerate(lines):
        p.feed(line, stream=stream, time_ms=1_000 + i, event_id=f"{stream}-{i}")
    return p.finish()


def _in_threads(jobs: list[tuple[list[str], str]]) -> list[list[OomEvent]]:
    """Each job's lines fed to its own parser in its own thread, line by line, the threads switching as often as
    the interpreter lets them."""
    results: list[list[OomEvent]] = [[] for _ in jobs]
    start = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            start.wait()
            results[k] = _parse(*jobs[k])
        except BaseException as exc:  # reported by the caller's assert
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(jobs))]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    return results


def _pairs() -> Iterator[tuple[Path, Path]]:
    files = corpus_files()
    return zip(files, files[1:] + files[:1], strict=True)


def test_two_parsers_in_two_threads_give_what_each_gives_alone() -> None:
    # GIVEN two different reports, each as classic syslog from its own host (the per-parser hint applies)
    kills = 0
    for a, b in _pairs():
        jobs = [(_classic(a, "web-1") * 3, "i-0aaa"), (_classic(b, "db-22") * 3, "i-0bbb")]
        # WHEN each is parsed alone, then both at once in two threads
        alone = [_parse(*job) for job in jobs]
        together = _in_threads(jobs)
        # THEN the threads give exactly the sequential events
        assert together == alone, (a.name, b.name)
        kills += len(alone[0])
    assert kills > 0


def test_two_threads_on_the_raw_corpus_give_the_sequential_events() -> None:
    # GIVEN every corpus report in its own transport, split over two threads
    files = corpus_files()
    jobs = [([line for f in files[k::2] for line in corpus_lines(f)], f"s{k}") for k in range(2)]
    # WHEN parsed alone and in two threads
    alone = [_parse(*job) for job in jobs]
    # THEN the same events, and some at all
    assert sum(map(len, alone)) > 0
    assert _in_threads(jobs) == alone


def test_the_reading_hint_is_the_callers_own() -> None:
    # GIVEN two hints and a classic kernel line with an uptime
    line = "Nov 26 10:00:01 web-1 kernel: [ 5001.123456] Out of memory: Killed process 4242 (php-fpm)"
    mine, yours = KernelPrefix(), KernelPrefix()
    # WHEN one line is read with my hint, and one without any
    (rec,) = parse_line(line, None, mine)
    parse_line(line.replace("web-1", "db-22"))
    # THEN only my hint learnt the prefix, and the next line read through it is the general path's record
    assert mine.last[:2] == ("Nov 26 10:00:01 web-1 kernel: ", "web-1")
    assert yours.last == ("", None, 0.0, "")
    nxt = line.replace("5001.123456", "5001.223456")
    (fast,) = parse_line(nxt, rec, mine)
    (plain,) = parse_line(nxt, rec)
    assert {k: getattr(fast, k) for k in fast.__slots__} == {k: getattr(plain, k) for k in plain.__slots__}
    assert fast.uptime == 5001.223456 and fast.host == "web-1"
