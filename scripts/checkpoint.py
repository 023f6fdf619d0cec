#!/usr/bin/env python3
"""Entry point: `python scripts/checkpoint.py run ...` (the runner is the
recon_runner package beside this file; `--help` lists outcomes and exit codes)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from recon_runner.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
