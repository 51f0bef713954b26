"""``python -m verifier.cli``: the same as the ``frontier-verify`` command."""

import sys

from verifier.cli import main

if __name__ == "__main__":  # guarded: importing this module (pkgutil walks) runs nothing
    sys.exit(main())
