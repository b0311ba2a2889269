"""`python -m sitelens_tui` runs the `sitelens` command."""

import sys

from sitelens_tui.cli import main

sys.exit(main())
