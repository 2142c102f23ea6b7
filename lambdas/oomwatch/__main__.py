"""``python -m oomwatch scan ...``"""

import sys

from oomwatch.cli import main

sys.exit(main())
