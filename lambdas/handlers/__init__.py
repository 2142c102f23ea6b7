"""Lambda entry points (``handlers.oom``, ``handlers.digest``, ``handlers.alarm_notice``) and
their AWS adapters. Decisions and texts live in the pure ``alerting`` package; parsing lives in
``oomwatch``.
"""
