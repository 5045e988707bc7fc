"""`python -m lfgtui` is `lfg`."""

import sys

from lfgtui.commands.main import main

sys.exit(main())
