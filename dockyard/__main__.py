"""``python -m dockyard``: the command line (the monitor calls back through it)."""

import sys

from dockyard.cli.main import main

sys.exit(main())
