"""``python -m minimlp`` is the ``minimlp`` command."""
import sys

from .cli import main

sys.exit(main())
