"""``python -m lavabridge.cli``: the ``lavabridge`` command."""

import sys

from lavabridge.cli import main

sys.exit(main())
