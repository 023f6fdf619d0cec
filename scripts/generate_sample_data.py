#!/usr/bin/env python3
"""`python scripts/generate_sample_data.py ...` is `python -m recon_generator ...`:
writes a labelled scenario (see recon_generator/__init__.py; `--help` lists
the options). The recon_generator package sits beside this file."""

import sys

from recon_generator.cli import main

if __name__ == "__main__":
    sys.exit(main())
