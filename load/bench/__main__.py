"""``python -m load.bench``: see load/bench/run.py."""

import sys

from load.bench.run import main

sys.exit(main())
