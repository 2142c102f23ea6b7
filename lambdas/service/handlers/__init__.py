"""Lambda entry points (``service.handlers.oom``, ``.digest``, ``.alarm_notice``, ``.association``): Powertools
around one call into :mod:`service.logic`.
"""
