"""The use cases (what a handler does with one event) and the pure decisions and texts they use.

Modules that call AWS do so only through the adapters of :mod:`service.dal` handed in a
:class:`service.logic.ports.Runtime`; the decision and text modules (severity, hints, alert_text, digest_view,
alarm_text, rollout_text, links, text) import no AWS library at all.
"""
