"""The use cases (what a handler does with one event) and the pure decisions and texts they use.

Modules that call AWS do so only through the adapters of :mod:`service.dal` handed in a
:class:`service.logic.ports.Runtime`; the decision and text modules (severity, hints, alert_text, digests,
alarm_notices, rollout_notices, links, text) import no AWS library at all.
"""
