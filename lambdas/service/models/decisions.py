"""What the logic decided about a kill, as plain data the state table, the views and the texts carry."""

from typing import NamedTuple


class Severity(NamedTuple):
    level: str  # "critical" | "warning"
    reason: str


class Fingerprint(NamedTuple):
    key: str  # short hash used in DynamoDB keys
    scope: str  # "asg:web" | "instance:i-..." | "host:web-1"
    source: str
    subject: str  # workload name or comm
    label: str  # human-readable, e.g. "php-fpm on asg web (kernel)"
