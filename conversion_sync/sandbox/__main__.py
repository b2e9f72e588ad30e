"""`python -m conversion_sync.sandbox` runs the sandbox org CLI."""

import sys

from .cli import main

sys.exit(main())
