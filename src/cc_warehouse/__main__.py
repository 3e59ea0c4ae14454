"""`python -m cc_warehouse <command>`: the same as `cc <command>`."""

import sys

from cc_warehouse.cli import main

sys.exit(main())
