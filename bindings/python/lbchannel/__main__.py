"""``python -m lbchannel``: the ``lbchannel`` command (see :mod:`lbchannel.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
