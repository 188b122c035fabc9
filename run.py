"""Entry point: `python run.py <command>` (also installed as `okrsync`)."""

import sys

from sync.cli import main

if __name__ == "__main__":
    sys.exit(main())
