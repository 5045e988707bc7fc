"""`python -m lfgtui` is `lfg`."""

import sys

from lfgtui.commands import lfg

sys.exit(lfg())
