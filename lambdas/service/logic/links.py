"""AWS console deep links: a Logs Insights query around the kill, and the instance page.

The Logs Insights fragment is an undocumented but stable encoding (a JSURL-like object whose
string values are ``encodeURIComponent``-ed with ``%`` -> ``*``, then ``escape()``-d, then the
whole ``?queryDetail=`` part ``encodeURIComponent``-ed with ``%`` -> ``$``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache, lru_cache
from urllib.parse import quote

_JS_ESCAPE_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@*_+-./")


def console_host(region: str) -> str:
    if region.startswith("cn-"):
        return f"https://{region}.console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return f"https://{region}.console.amazonaws-us-gov.com"
    return f"https://{region}.console.aws.amazon.com"


def _uri_component(text: str) -> str:
    """JavaScript's encodeURIComponent."""
    return quote(text, safe="-_.!~*'()")


def _js_escape(text: str) -> str:
    """JavaScript's escape() for ASCII input."""
    return "".join(ch if ch in _JS_ESCAPE_SAFE else f"%{ord(ch):02X}" for ch in text)


def _value(text: str) -> str:
    return "'" + _uri_component(text).replace("%", "*")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@cache
def _fragment_table() -> dict[int, str]:
    """Per ASCII character: what ``escape()`` then ``encodeURIComponent`` with ``%`` -> ``$`` make of it."""
    return {i: _uri_component(_js_escape(chr(i))).replace("%", "$") for i in range(128)}


def _fragment(detail: str) -> str:
    """``encodeURIComponent(escape(detail))`` with ``%`` -> ``$``: a per-character map, so pieces encode apart."""
    if detail.isascii():  # always: every value in it is already encodeURIComponent-ed
        return detail.translate(_fragment_table())
    return _uri_component(_js_escape(detail)).replace("%", "$")


@lru_cache(maxsize=32)
def _fixed_part(log_groups: tuple[str, ...], query: str) -> str:
    """The encoded part of a link after its time range: the same for every kill of a stream."""
    sources = "~(" + "".join("~" + _value(g) for g in log_groups) + ")"
    return _fragment(f"~timeType~'ABSOLUTE~tz~'UTC~editorString~{_value(query)}~source{sources})")


_QUERY_DETAIL = _uri_component("?queryDetail=").replace("%", "$")


def logs_insights_url(region: str, log_groups: list[str], query: str, start_ms: int, end_ms: int) -> str:
    """Console link that opens Logs Insights with ``query`` over ``log_groups`` and an absolute range."""
    times = _fragment(f"~(end~{_value(_iso(end_ms))}~start~{_value(_iso(start_ms))}")
    fragment = _QUERY_DETAIL + times + _fixed_part(tuple(log_groups), query)
    return f"{console_host(region)}/cloudwatch/home?region={region}#logsV2:logs-insights{fragment}"


def stream_query(stream: str) -> str:
    """Logs Insights query for every line of one log stream (no quotes or parentheses needed)."""
    safe = stream.replace('"', "")
    return f'fields @timestamp, @message\n| filter @logStream = "{safe}"\n| sort @timestamp asc\n| limit 2000'


def kill_context_url(region: str, log_group: str, stream: str, kill_ms: int) -> str:
    """The instance's log lines from 10 minutes before to 5 minutes after the kill."""
    return logs_insights_url(region, [log_group], stream_query(stream), kill_ms - 10 * 60_000, kill_ms + 5 * 60_000)


def events_query_url(region: str, events_log_group: str, fingerprint: str, start_ms: int, end_ms: int) -> str:
    """Every oom_kill event of one noise fingerprint, for digests."""
    query = (
        "fields @timestamp, instance.name, instance.id, victim.comm, victim.pid, victim.rss_kb\n"
        f'| filter message = "oom_kill" and fingerprint = "{fingerprint}"\n'
        "| sort @timestamp asc\n| limit 1000"
    )
    return logs_insights_url(region, [events_log_group], query, start_ms, end_ms)


def instance_url(region: str, instance_id: str) -> str:
    return f"{console_host(region)}/ec2/home?region={region}#InstanceDetails:instanceId={instance_id}"


def _console_part(text: str) -> str:
    """A path part of the CloudWatch console's ``#logsV2:`` fragment: encodeURIComponent twice, ``%`` -> ``$``."""
    return _uri_component(_uri_component(text)).replace("%", "$")


def stream_url(region: str, log_group: str, stream: str, start_ms: int, end_ms: int) -> str:
    """The console's log-events view of one stream over a time range: about 190 characters, against 520 for
    the Logs Insights link with its query (which stays in the alert's JSON form).

    The ``#logsV2:log-groups/log-group/<group>/log-events/<stream>?start=<ms>&end=<ms>`` fragment is what
    the console itself puts in the address bar (not a documented API; observed, like the Insights encoding)."""
    times = _uri_component(f"?start={start_ms}&end={end_ms}").replace("%", "$")
    return (
        f"{console_host(region)}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
        f"{_console_part(log_group)}/log-events/{_console_part(stream)}{times}"
    )


def kill_stream_url(region: str, log_group: str, stream: str, kill_ms: int) -> str:
    """The instance's log lines from 10 minutes before to 5 minutes after the kill (as :func:`kill_context_url`)."""
    return stream_url(region, log_group, stream, kill_ms - 10 * 60_000, kill_ms + 5 * 60_000)


def events_search_url(region: str, events_log_group: str, fingerprint: str, start_ms: int, end_ms: int) -> str:
    """The console's search of every stream of the events log group for one fingerprint over a time range
    (``.../log-events?filterPattern="<fingerprint>"&start=..&end=..``, the address the console shows for "Search
    all log streams"; observed, not documented): about 260 characters against 690 for the Insights query."""
    pattern = _console_part(f'"{fingerprint}"')
    query = (
        _uri_component("?filterPattern=").replace("%", "$")
        + pattern
        + _uri_component(f"&start={start_ms}&end={end_ms}").replace("%", "$")
    )
    return (
        f"{console_host(region)}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
        f"{_console_part(events_log_group)}/log-events{query}"
    )
