"""`python -m sandbox_org` runs the sandbox org CLI."""

import sys

from .cli import main

sys.exit(main())
