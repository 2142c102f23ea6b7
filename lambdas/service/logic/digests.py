"""Turn a stored noise window (the ``win#...`` item) into the digest's view model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from service.logic.alert_text import DigestView, Victim
from service.logic.severity import Fingerprint


def _int(value: object, default: int = 0) -> int:
    return int(value) if isinstance(value, int | float) else default


def digest_view(
    item: Mapping[str, object],
    *,
    loop_threshold: int,
    region: str,
    account: str,
    names: Mapping[str, str],
) -> DigestView:
    top = item.get("top")
    victims = []
    for entry in top.values() if isinstance(top, Mapping) else ():
        if not isinstance(entry, Mapping):
            continue
        pid = entry.get("pid")
        rss = entry.get("rss_kb")
        victims.append(
            Victim(
                comm=str(entry.get("comm") or "?"),
                pid=pid if isinstance(pid, int) else None,
                rss_kb=rss if isinstance(rss, int) else None,
                instance=str(entry.get("where") or "?"),
                time_ms=_int(entry.get("time_ms")),
            )
        )
    victims.sort(key=lambda v: (-(v.rss_kb or 0), v.time_ms))
    count = _int(item.get("count"), 1)
    events_group = str(item.get("events_group") or "")
    return DigestView(
        fingerprint=Fingerprint(
            key=str(item.get("fingerprint") or ""),
            scope=str(item.get("scope") or "host:unknown"),
            source=str(item.get("source") or "kernel"),
            subject=str(item.get("subject") or "?"),
            label=str(item.get("label") or ""),
        ),
        total=count,
        window_start_ms=_int(item.get("window_start")),
        window_end_ms=_int(item.get("window_end")),
        first_ms=_int(item.get("first_ms"), _int(item.get("window_start"))),
        last_ms=_int(item.get("last_ms"), _int(item.get("window_end"))),
        instances=sorted(str(i) for i in instances) if isinstance(instances := item.get("instances"), Iterable) else [],
        victims=victims[:5],
        severity="critical" if _int(item.get("critical")) > 0 else "warning",
        escalated=count >= loop_threshold,
        region=region,
        account=account,
        events_log_group=events_group if events_group not in ("", "-") else None,
        names=dict(names),
    )
