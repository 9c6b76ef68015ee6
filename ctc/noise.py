"""Messages every run prints that say nothing about the user's program, filtered by their exact
text, or the exact start of it (issue 12); any other warning or log line still appears.

- torchtitan's checkpoint config logs "initial_load_model_only=True has no effect without an
  initial_load_path." (ctc never loads a checkpoint), once per rank;
- DTensor warns that "random operators may not have complete support on cpu device mesh"
  (ctc's numerics tests check every step against eager instead), once per rank;
- torch's CPU autocast in torchtitan's MoE warns "In CPU autocast, but the target dtype is not
  supported. Disabling autocast." about a hundred times in a DeepSeek-v3 run;
- torchtitan's trainer looks for a GPU's name to compute MFU ("Error running lspci: ...",
  "Peak flops undefined for: x86_64, fallback to A100") on every CPU rank.
"""

from __future__ import annotations

import logging
import re
import warnings

NOISE_WARNINGS = (
    "DTensor random operators may not have complete support on cpu device mesh",
    "In CPU autocast, but the target dtype is not supported. Disabling autocast.",
)
NOISE_LOG_LINES = (
    "initial_load_model_only=True has no effect without an initial_load_path.",
    "Error running lspci: ",
    "Peak flops undefined for: ",
)


class _DropNoiseLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(NOISE_LOG_LINES)


_LOG_FILTER = _DropNoiseLines()


def silence_known_noise() -> None:
    """Filters the messages above in this process (idempotent)."""
    for text in NOISE_WARNINGS:
        warnings.filterwarnings("ignore", message=re.escape(text))
    root = logging.getLogger()  # torchtitan logs on the root logger
    if _LOG_FILTER not in root.filters:
        root.addFilter(_LOG_FILTER)
