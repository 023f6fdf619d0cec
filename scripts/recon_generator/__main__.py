"""`python -m recon_generator ...`: the same as scripts/generate_sample_data.py."""

import sys

from .cli import main

sys.exit(main())
