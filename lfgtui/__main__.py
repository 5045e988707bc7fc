"""`python -m lfgtui` is `lfg`."""

import sys

from lfgtui.cli import main

sys.exit(main())
