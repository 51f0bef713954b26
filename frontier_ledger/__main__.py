"""``python -m frontier_ledger`` is the ``frontier-ledger`` command."""

import sys

from frontier_ledger.cli import main

sys.exit(main())
