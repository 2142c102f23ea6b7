"""Turn a due noise window (:class:`service.dal.state.DueWindow`, decoded from its ``win#...`` item) into the
digest's view model."""

from __future__ import annotations

from collections.abc import Mapping

from service.dal.state import DueWindow
from service.models.views import DigestVictim, DigestView


def digest_view(
    window: DueWindow,
    *,
    loop_threshold: int,
    region: str,
    account: str,
    names: Mapping[str, str],
) -> DigestView:
    victims = [
        DigestVictim(comm=v.comm, pid=v.pid, rss_kb=v.rss_kb, instance=v.where, time_ms=v.time_ms) for v in window.top
    ]
    victims.sort(key=lambda v: (-(v.rss_kb or 0), v.time_ms))
    return DigestView(
        fingerprint=window.fingerprint,
        total=window.count,
        window_start_ms=window.window_start_ms,
        window_end_ms=window.window_end_ms,
        first_ms=window.first_ms,
        last_ms=window.last_ms,
        instances=list(window.instances),
        victims=victims[:5],
        severity="critical" if window.critical > 0 else "warning",
        escalated=window.count >= loop_threshold,
        region=region,
        account=account,
        events_log_group=window.events_group,
        names=dict(names),
        muted=window.muted,
    )
