"""``python -m ctc``: the ``ctc`` command."""

from __future__ import annotations

import sys

from ctc.cli.main import main

# Guarded: processes spawned by ctc.launch import this module again as __mp_main__.
if __name__ == "__main__":
    sys.exit(main())
