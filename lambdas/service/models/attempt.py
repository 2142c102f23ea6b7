"""Who is delivering a message: the invocation's request id and its deadline (the delivery protocol's owner, see
:mod:`service.logic.delivery`; the state table records it in every claim).
"""

from typing import NamedTuple

SKEW_S = 5  # clock skew between Lambda hosts and DynamoDB's condition time


class Attempt(NamedTuple):
    """Who is delivering: the request id (kept by Lambda across retries) and when it must stop."""

    request_id: str
    deadline_s: float  # epoch seconds; Lambda stops the runtime at this time

    def lease_until(self) -> int:
        return int(self.deadline_s) + SKEW_S

    def time_left(self, now_s: float) -> float:
        return self.deadline_s - now_s
