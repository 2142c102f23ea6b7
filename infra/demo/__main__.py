import sys

from infra.demo import main

sys.exit(main())
