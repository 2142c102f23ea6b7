"""The digest schedule's use case: every run sends one digest per noise window that has ended and folded
kills, then does the fleet coverage check when it is due (:mod:`service.logic.coverage`, at most once per
``COVERAGE_INTERVAL_MINUTES``), whose failures are logged and never fail the digests.

Each window is claimed, rendered, published and committed (:mod:`service.logic.delivery`); failed publishes
are released and re-raised, a failed commit never is (the digest went out).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from service.dal.clients import error_code
from service.dal.state import DueWindow
from service.logic import events as bus_events
from service.logic.alert_text import render_digest
from service.logic.coverage import check_coverage
from service.logic.delivery import PUBLISH_RESERVE_S, attempt, commit_or_keep, quietly
from service.logic.digest_view import digest_view
from service.logic.mute_notices import announce_mutes
from service.logic.ports import PublishFailed, Runtime
from service.models.attempt import Attempt
from service.models.views import DigestView, Message

MAX_DIGESTS_PER_RUN = 200


def _due(rt: Runtime, now: float, me: Attempt) -> list[DueWindow]:
    due = []
    for item in rt.store.digests.due_windows(now, attempt=me):
        due.append(item)
        if len(due) >= MAX_DIGESTS_PER_RUN:
            break
    return due


def _names(rt: Runtime, due: list[DueWindow]) -> dict[str, str]:
    """EC2 Name tags of the instances the due windows name (one batched lookup)."""
    instance_ids = {i for item in due for i in item.instances if i.startswith("i-")}
    if not instance_ids:
        return {}
    lookup = rt.directory.lookup(sorted(instance_ids))
    return {iid: info.name for iid, info in lookup.instances.items() if info.name}


def _publish(
    rt: Runtime, item: DueWindow, pk: str, me: Attempt, account: str, names: dict[str, str]
) -> tuple[DigestView, Message]:
    """Render and publish one claimed window; on failure release the claim and re-raise."""
    try:
        if me.time_left(rt.clock()) < PUBLISH_RESERVE_S:
            raise TimeoutError("too little of the invocation left to publish and record it")
        view = digest_view(
            item, loop_threshold=rt.settings.loop_threshold, region=rt.settings.region, account=account, names=names
        )
        message = render_digest(view)
        rt.publisher.publish(message)
    except Exception as exc:
        rt.telemetry.warning("digest_publish_failed", pk=pk, error=error_code(exc))
        rt.telemetry.count("PublishFailures")
        quietly(lambda: rt.store.digests.release_digest(pk), sleep=rt.sleep)
        raise
    return view, message


def _digest_event(rt: Runtime, message: Message, view: DigestView) -> list[bus_events.Entry]:
    """The digest's "OOM Digest" event (none if it cannot be built: the digest went out)."""
    if rt.events is None:
        return []
    try:
        return [bus_events.message_entry(message, decision="digest", time_ms=view.window_end_ms)]
    except Exception as exc:
        rt.telemetry.warning("event_build_failed", fingerprint=view.fingerprint.key, error=type(exc).__name__)
        rt.telemetry.count("EventFailures")
        return []


def send_due_digests(
    rt: Runtime, account: str = "", request_id: str | None = None, remaining_ms: int | None = None
) -> dict[str, Any]:
    """Send each due window's digest; :class:`PublishFailed` after the run if any publish failed."""
    now = rt.clock()
    me = attempt(request_id, remaining_ms, now)
    if len(rt.outbox):
        rt.outbox.flush()
    sent = 0
    entries: list[bus_events.Entry] = []
    failures: list[BaseException] = []
    due = _due(rt, now, me)
    names = _names(rt, due)
    digests = rt.store.digests  # its methods looked up at each call: a kept commit runs in a later invocation
    for item in due:
        pk = item.pk
        if not rt.store.digests.claim_digest(pk, now, me):
            continue
        try:
            view, message = _publish(rt, item, pk, me, account, names)
        except Exception as exc:
            failures.append(exc)
            continue
        if not commit_or_keep(f"digest#{pk}", lambda pk=pk: digests.finish_digest(pk, now), rt.outbox, rt.sleep):  # type: ignore[misc]
            rt.telemetry.warning("commit_kept", pk=pk)
        rt.telemetry.info("digest_sent", pk=pk, count=view.total, fingerprint=view.fingerprint.key)
        rt.telemetry.count("DigestsSent")
        sent += 1
        entries += _digest_event(rt, message, view)
    bus_events.emit(rt, entries)
    if len(rt.outbox):
        rt.outbox.flush()
    if failures:
        raise PublishFailed(f"{len(failures)} digest(s) not published ({error_code(failures[0])})") from failures[0]
    return {"due": len(due), "sent": sent}


def _aside(
    step: Callable[[Runtime, str], dict[str, Any]], rt: Runtime, account: str, *, key: str, warning: str, metric: str
) -> dict[str, Any]:
    """A side step of the run (mute notices, the coverage check) whose failure (AWS, publish, a bug) is logged and
    counted, and never fails the digest run: the next run tries again."""
    try:
        return step(rt, account)
    except Exception as exc:
        rt.telemetry.warning(warning, error=error_code(exc))
        rt.telemetry.count(metric)
        return {key: "failed", "error": error_code(exc)}


def scheduled_run(
    event: Mapping[str, Any], rt: Runtime, request_id: str | None = None, remaining_ms: int | None = None
) -> dict[str, Any]:
    """One schedule tick: the due digests, then (even if they failed) the mute notices and the coverage check."""
    account = str(event.get("account") or "")
    try:
        result = send_due_digests(rt, account=account, request_id=request_id, remaining_ms=remaining_ms)
    finally:
        mutes = _aside(announce_mutes, rt, account, key="mute_notices", warning="mute_notices_failed",
                       metric="MuteNoticeFailures")  # fmt: skip
        coverage = _aside(check_coverage, rt, account, key="coverage", warning="coverage_check_failed",
                          metric="CoverageCheckFailures")  # fmt: skip
    if mutes.get("mute_notices"):
        result = {**result, **mutes}
    return result if coverage.get("coverage") == "off" else {**result, **coverage}
