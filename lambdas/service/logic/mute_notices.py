"""The mute notices' use case, run by the digest schedule (every 5 minutes): the mutes the CLI set, removed or
let expire since the last run each get one notice (:mod:`service.logic.mute_text`).

The CLI has no topic to publish to: it writes ``mutes#index`` and this diffs it against ``mutes#announced``
(:mod:`service.dal.state.mutes`), so a notice is up to one schedule period (plus the run) late. Each notice is
claimed before its publish and released when the publish fails (the next run sends it); a run that dies between
the claim and the publish loses that notice (at most once, as the rollout notices).
"""

from __future__ import annotations

from typing import Any

from oomwatch.mutes import Mute

from service.dal.clients import error_code
from service.logic import events as bus_events
from service.logic.mute_text import Action, render_mute_notice
from service.logic.ports import Runtime

MAX_NOTICES_PER_RUN = 50


def _end_action(mute: Mute, max_hours: int) -> Action:
    return "removed" if mute.was_removed(max_hours) else "expired"


def _send(rt: Runtime, mute: Mute, action: Action, account: str) -> bool:
    s = rt.settings
    state = "set" if action == "set" else "ended"
    if state == "set":
        claimed = rt.store.mutes.claim_set(mute, rt.clock())
    else:
        claimed = rt.store.mutes.claim_end(mute, rt.clock())
    if not claimed:
        return False
    message = render_mute_notice(mute, action, max_hours=s.mute_max_hours, region=s.region, account=account)
    try:
        rt.publisher.publish(message)
    except Exception as exc:
        rt.telemetry.warning("mute_notice_failed", mute_id=mute.id, action=action, error=error_code(exc))
        rt.telemetry.count("PublishFailures")
        try:
            rt.store.mutes.release(mute, state)
        except Exception as again:
            rt.telemetry.warning("mute_notice_release_failed", mute_id=mute.id, error=error_code(again))
        raise
    bus_events.emit_message(rt, message)
    rt.telemetry.info("mute_notice_sent", mute_id=mute.id, action=action)
    return True


def announce_mutes(rt: Runtime, account: str) -> dict[str, Any]:
    """One notice per mute set, removed or expired since the last run; raises on a failed publish."""
    s = rt.settings
    now = rt.clock()
    index = rt.store.mutes.all()
    announced = rt.store.mutes.announced()
    sent = 0
    in_index = {m.id for m in index}
    for mute in index:
        if sent >= MAX_NOTICES_PER_RUN:
            break
        state = announced.get(mute.id, (mute, ""))[1]
        if state == "":
            sent += _send(rt, mute, "set", account)
            state = "set"
        if state == "set" and mute.ended(now, s.mute_max_hours):
            sent += _send(rt, mute, _end_action(mute, s.mute_max_hours), account)
    gone = []
    for mute_id, (mute, state) in announced.items():
        if mute_id in in_index:
            continue
        if state == "set" and sent < MAX_NOTICES_PER_RUN:  # dropped from the index before its end was announced
            sent += _send(rt, mute, _end_action(mute, s.mute_max_hours), account)
        gone.append(mute_id)
    if gone:
        rt.store.mutes.forget_announced(gone)
    return {"mute_notices": sent}
