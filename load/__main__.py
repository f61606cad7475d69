import sys

from load.harness import main

sys.exit(main())
