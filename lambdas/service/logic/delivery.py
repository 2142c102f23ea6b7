"""The one delivery protocol: claim -> publish -> commit (or release), for every message oomwatch sends.

Kill alerts, OOM-loop alerts, digests and alarm notices all go through it. Each message has a
*claim* item in the state table; the rules below are what makes "exactly one message" hold
through crashes, timeouts, throttling, Lambda's retries and duplicate deliveries.

Rules
-----
1. **Claim** (``pending``) with a conditional write that records the *owner* (the invocation's
   request id) and a *lease* that ends when the owner is certainly dead: its own deadline (claim
   time + the invocation's remaining time, which Lambda enforces by stopping the runtime) plus
   :data:`SKEW_S` for clock skew. Another invocation may take a pending claim over only after
   the lease; the owner's own retry may take it over at once. Counting in the noise window
   records the owner too, so a retry after a death never counts the kill twice.
2. Before the publishes, the kills' places are saved and the ones with messages become
   ``sending``: from then on only the owner's retry takes them over (it cannot know whether SNS
   took the message; it sends again rather than lose it); any other request treats them as sent.
   **Publish**, then **commit** at once (``done``). A publish that succeeded is never repeated:
   the commit is retried with back-off, and if it still fails it is kept in the container's
   :class:`Outbox` (flushed before and after every later invocation) and the invocation does
   *not* fail, so Lambda does not retry it; a redelivery elsewhere finds ``sending`` and stops.
3. A publish that **failed** releases the claim (``pending``, lease 0) and fails the invocation,
   so Lambda retries it. A release that fails costs nothing: the retry is the owner (rule 1).
4. Bookkeeping (save, commit, release) never kills the invocation, whatever it raises; one kill
   that cannot be rendered or stored is isolated (see ``pipeline``): it goes out in a minimal
   form, and the others of the delivery are unaffected.

Timing argument
---------------
Lambda retries a failed asynchronous invocation twice, "with a one-minute wait between the first
two attempts, and two minutes between the second and third", and keeps an event up to 6 hours;
its queue may also deliver the same event again at any time ("the queue itself is eventually
consistent"); CloudWatch Logs subscriptions invoke the function asynchronously
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html). Lambda's
own retry keeps the request id of the failed attempt (AWS knowledge center, "duplicate
invocations ... with the same request ID indicate that the Lambda service retried the
function"); a redelivery by the queue is a new request.

* The old lease (120 s, longer than the function's 60 s timeout) outlived the first retry
  (~60 s after the failure): the retry saw its own dead claim as "in flight" and dropped the
  kill. A lease shorter than the shortest retry delay is not correct either: the retry delay is
  "about" a minute, not a bound, and a lease must never end while its owner still runs (a
  concurrent redelivery would send a second alert). So: the lease ends at the owner's deadline
  (it cannot run longer), and the retry recognises its own earlier attempt by the request id,
  whatever the lease says. Lambda only retries an attempt that has ended (error or timeout), so
  the owner is dead when its retry arrives.
* A redelivery with another request id waits for the lease: either the owner finishes (the claim
  is done: a duplicate) or it died (the lease ends at most one timeout later, and the next
  redelivery or the owner's retry sends the alert).
* A publish is started only with :data:`PUBLISH_RESERVE_S` of the invocation left, so a hanging
  SNS call cannot be cut by the function timeout between a successful publish and its commit.

Fault cases (``tests/handlers/test_delivery_faults.py`` injects each as throttling, a call
timeout, a crash - an exception - and a death - the runtime stopped -, then replays Lambda's retry
schedule - +60 s, +120 s, same request id - and two redeliveries, +10 min and +5 h 59 min, as new
requests on fresh containers; every row ends with exactly one message and one event per kill)

==========  ======================================================================================
step        what happens
==========  ======================================================================================
claim       throttle/timeout/crash: memory claims (degraded, the alert says so); the commit writes
            ``done`` durably, so redeliveries are duplicates. death (after the claim landed): the
            retry is the owner and takes the claim over at once (the old 120 s lease dropped it)
count       throttle/timeout/crash: memory count (degraded). death after the counter moved: the
            retry finds its own request id on the window (``last_owner``) and reuses that count
render      crash: that kill goes out in a minimal form (victim, host, raw kill line, "details
            could not be rendered"), the others in full; its event is kept. death: retry
save        throttle/timeout/crash: event and alert still go out; the commit writes the place with
            ``done``. death: the retry reuses its count (see count)
event       crash: a minimal event (raw kill line, error) is written instead
publish     throttle/timeout/crash: release, invocation fails; Lambda's retry (same request id)
            sends the same alert, same occurrence. death (SNS hung until the timeout): the retry
            takes its ``sending`` claim over and sends
release     (after a failed publish) any fault: the invocation fails anyway; the retry is the owner
commit      throttle/timeout/crash: kept in the outbox, the invocation succeeds (no retry); a
            redelivery finds ``sending`` (another request) or the flushed ``done``
==========  ======================================================================================

What cannot be closed without an idempotent publish (SNS standard topics have no de-duplication;
FIFO topics do not deliver e-mail), pinned by tests as the documented residual:

* the runtime stopped *between* SNS accepting a message and the commit reaching DynamoDB (a
  publish needs :data:`PUBLISH_RESERVE_S` left, so not by the timeout; out of memory or a host
  failure): Lambda's retry sends that message a second time - never loses it;
* the runtime stopped between saving the places and writing the events (two local steps with no
  I/O between but a stdout write): the retry does not write that event again;
* DynamoDB failing for a whole invocation (degraded mode, said in the alert): a redelivery to
  another container before the outbox drains may send a second alert.
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from service.models.attempt import Attempt

PUBLISH_RESERVE_S = 8.0  # one SNS publish (SAFE config, bounded) plus its commit
DEFAULT_REMAINING_S = 60.0  # the OOM function's timeout, when no Lambda context is given
OUTBOX_MAX = 1000


def attempt(request_id: str | None, remaining_ms: int | None, now_s: float) -> Attempt:
    """The Attempt of an invocation; without a Lambda context, a fresh id and the default timeout."""
    if not request_id:
        import uuid

        request_id = f"local-{uuid.uuid4()}"
    remaining = DEFAULT_REMAINING_S if remaining_ms is None else max(0.0, remaining_ms / 1000)
    return Attempt(request_id[:100], now_s + remaining)


def backoff(
    call: Callable[[], None],
    tries: int = 3,
    base_s: float = 0.05,
    sleep: Callable[[float], None] = time.sleep,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = Exception,
) -> None:
    """Run ``call``; on failure wait ``base * 2^n`` with full jitter and try again (bounded)."""
    for n in range(tries):
        try:
            call()
            return
        except retry_on:
            if n == tries - 1:
                raise
            sleep(random.uniform(0, base_s * (2**n)))  # noqa: S311 - jitter, not security


class Outbox:
    """Bookkeeping writes that failed after their message went out, retried by later invocations.

    One per container (the Runtime holds it; a warm container keeps it); bounded: the oldest
    entries go first, which at worst lets one of them be sent a second time (never lost).
    """

    def __init__(self, max_entries: int = OUTBOX_MAX) -> None:
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, Callable[[], None]] = OrderedDict()
        self._max = max_entries

    def add(self, key: str, write: Callable[[], None]) -> None:
        with self._lock:
            self._pending[key] = write
            self._pending.move_to_end(key)
            while len(self._pending) > self._max:
                self._pending.popitem(last=False)

    def __len__(self) -> int:
        return len(self._pending)

    def flush(self) -> int:
        """Try every pending write once; return how many are still pending."""
        with self._lock:
            todo = list(self._pending.items())
        for key, write in todo:
            try:
                write()
            except Exception:  # still failing: kept for the next invocation
                ok = False
            else:
                ok = True
            if ok:
                with self._lock:
                    if self._pending.get(key) is write:
                        del self._pending[key]
        return len(self._pending)


OUTBOX = Outbox()


def commit_or_keep(
    key: str, write: Callable[[], None], outbox: Outbox = OUTBOX, sleep: Callable[[float], None] = time.sleep
) -> bool:
    """The commit after a successful publish: retried, then kept in the outbox; never raises."""
    try:
        backoff(write, sleep=sleep)
        return True
    except Exception:
        outbox.add(key, write)
        return False


def quietly(write: Callable[[], None], sleep: Callable[[float], None] = time.sleep) -> Exception | None:
    """A bookkeeping write whose failure must not cost the alert (rule 4): retried, never raises."""
    try:
        backoff(write, tries=2, sleep=sleep)
    except Exception as exc:
        return exc
    return None
