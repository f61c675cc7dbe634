"""``python -m reramsim`` runs the command-line interface."""
import sys

from reramsim.cli import main

sys.exit(main())
