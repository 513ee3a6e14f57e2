"""``python -m tapliance.cli``."""

import sys

from tapliance.cli import main

sys.exit(main())
