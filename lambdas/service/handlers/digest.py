"""Lambda ``service.handlers.digest.handler``: every 5 minutes (EventBridge schedule), send one digest
per noise window that has ended and folded kills.

So a digest arrives between 0 and about 5.5 minutes after its window ends (schedule period
plus a 30 s grace that keeps the oom handler and this job off the same window).

The same run also does the fleet coverage check when it is due (:mod:`service.logic.coverage`, at most once per
``COVERAGE_INTERVAL_MINUTES``); its failures are logged and never fail the digests.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.dal.clients import error_code
from service.logic.alert_text import render_digest
from service.logic.coverage import check_coverage
from service.logic.delivery import PUBLISH_RESERVE_S, attempt, commit_or_keep, quietly
from service.logic.digests import digest_view
from service.logic.ports import PublishFailed, Runtime
from service.wiring import PowertoolsTelemetry, runtime

logger = Logger()
metrics = Metrics()
telemetry = PowertoolsTelemetry(logger, metrics)
MAX_DIGESTS_PER_RUN = 200


def send_due_digests(
    rt: Runtime, account: str = "", request_id: str | None = None, remaining_ms: int | None = None
) -> dict[str, Any]:
    """Claim, render, publish and commit each due window (:mod:`service.logic.delivery`); failed
    publishes are released and re-raised, a failed commit never is (the digest went out)."""
    now = rt.clock()
    me = attempt(request_id, remaining_ms, now)
    if len(rt.outbox):
        rt.outbox.flush()
    sent = 0
    failures: list[BaseException] = []
    due = []
    for item in rt.store.digests.due_windows(now, attempt=me):
        due.append(item)
        if len(due) >= MAX_DIGESTS_PER_RUN:
            break
    instance_ids = {i for item in due for i in item.instances if i.startswith("i-")}
    names: dict[str, str] = {}
    if instance_ids:
        lookup = rt.directory.lookup(sorted(instance_ids))
        names = {iid: info.name for iid, info in lookup.instances.items() if info.name}
    digests = rt.store.digests  # its methods looked up at each call: a kept commit runs in a later invocation
    for item in due:
        pk = item.pk
        if not rt.store.digests.claim_digest(pk, now, me):
            continue
        try:
            if me.time_left(rt.clock()) < PUBLISH_RESERVE_S:
                raise TimeoutError("too little of the invocation left to publish and record it")
            view = digest_view(
                item, loop_threshold=rt.settings.loop_threshold, region=rt.settings.region, account=account, names=names
            )
            rt.publisher.publish(render_digest(view))
        except Exception as exc:
            rt.telemetry.warning("digest_publish_failed", pk=pk, error=error_code(exc))
            rt.telemetry.count("PublishFailures")
            quietly(lambda pk=pk: rt.store.digests.release_digest(pk), sleep=rt.sleep)  # type: ignore[misc]
            failures.append(exc)
            continue
        if not commit_or_keep(f"digest#{pk}", lambda pk=pk: digests.finish_digest(pk, now), rt.outbox, rt.sleep):  # type: ignore[misc]
            rt.telemetry.warning("commit_kept", pk=pk)
        rt.telemetry.info("digest_sent", pk=pk, count=view.total, fingerprint=view.fingerprint.key)
        rt.telemetry.count("DigestsSent")
        sent += 1
    if len(rt.outbox):
        rt.outbox.flush()
    if failures:
        raise PublishFailed(f"{len(failures)} digest(s) not published ({error_code(failures[0])})") from failures[0]
    return {"due": len(due), "sent": sent}


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    rt = runtime(telemetry)
    account = str(event.get("account") or "")
    try:
        result = send_due_digests(
            rt, account=account, request_id=context.aws_request_id, remaining_ms=context.get_remaining_time_in_millis()
        )
    finally:
        coverage = coverage_quietly(rt, account)
    return result if coverage.get("coverage") == "off" else {**result, **coverage}


def coverage_quietly(rt: Runtime, account: str) -> dict[str, Any]:
    """The coverage check, whose failure (AWS, publish, a bug) is logged and never fails the digest run."""
    try:
        return check_coverage(rt, account)
    except Exception as exc:
        rt.telemetry.warning("coverage_check_failed", error=error_code(exc))
        rt.telemetry.count("CoverageCheckFailures")
        return {"coverage": "failed", "error": error_code(exc)}
