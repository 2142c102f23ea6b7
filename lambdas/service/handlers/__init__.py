"""Lambda entry points (``service.handlers.oom``, ``.digest``, ``.alarm_notice``, ``.association``): Powertools
around one call into :mod:`service.logic`.

boto3 is imported here, before any handler module: Lambda imports this package first, so boto3 loads as near the
bottom of the call stack as a function's own ``import boto3`` would. Loaded from under the handler's chain of
imports instead (about ten modules deep), its regular expressions compile across a boundary of CPython's frame
stack, whose 16 KiB chunk is then mapped and unmapped on each crossing: about 740 ``mmap``/``munmap`` pairs on 3.11
and 330 on 3.13, each ~14 us here (README, Performance). ``tests/handlers/test_cold_import.py`` holds the order.
"""

import boto3  # noqa: F401  (loaded for its place in the stack, above)
