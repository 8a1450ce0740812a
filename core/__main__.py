"""``python -m core``: Reach's command line."""

from __future__ import annotations

import sys

from core.cli import main

sys.exit(main())
