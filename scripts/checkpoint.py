#!/usr/bin/env python3
"""`python scripts/checkpoint.py ...` is `refund-recon ...` without installing
(`pip install -e .` gives the command); `--help` lists outcomes and exit codes.
The recon_runner package sits beside this file, so Python finds it here."""

import sys

from recon_runner.cli import main

if __name__ == "__main__":
    sys.exit(main())
