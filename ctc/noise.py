"""Messages every run prints that say nothing about the user's program, filtered by their exact
text, or the exact start of it (issue 12); any other warning or log line still appears.

- torchtitan's checkpoint config logs "initial_load_model_only=True has no effect without an
  initial_load_path." (ctc never loads a checkpoint), once per rank;
- DTensor warns that "random operators may not have complete support on cpu device mesh"
  (ctc's numerics tests check every step against eager instead), once per rank;
- torch's CPU autocast in torchtitan's MoE warns "In CPU autocast, but the target dtype is not
  supported. Disabling autocast." about a hundred times in a DeepSeek-v3 run;
- torchtitan's trainer looks for a GPU's name to compute MFU ("Error running lspci: ...",
  "Peak flops undefined for: x86_64, fallback to A100") on every CPU rank, looks for Hugging Face
  weights beside the tokenizer ("model.safetensors.index.json not found ..."), and seeds DTensor's
  random generator on a CPU mesh ("DTensor manual_seed() may not have complete support");
- torchdata's loader calls the deprecated ``torch.set_vital``;
- FlexAttention's "flex_attention called without torch.compile()" when inductor cannot compile
  it on the CPU and ctc runs it eagerly (ctc's own warning names each such op and the reason);
- DTensor's note that clipping the gradient norm over two mesh dimensions takes "2 sequential
  all_reduce operations" (torchtitan's optimizer step, not the compiled step).

``show_ctc_warnings_plainly`` prints ctc's own warnings as one ``warning: ...`` line.
"""

from __future__ import annotations

import logging
import re
import sys
import warnings
from typing import TextIO

NOISE_WARNINGS = (
    "DTensor random operators may not have complete support on cpu device mesh",
    "In CPU autocast, but the target dtype is not supported. Disabling autocast.",
    "DTensor manual_seed() may not have complete support on cpu device mesh",
    "'set_vital' is deprecated, please do not call",
    "flex_attention called without torch.compile()",
)
NOISE_LOG_LINES = (
    "initial_load_model_only=True has no effect without an initial_load_path.",
    "Error running lspci: ",
    "Peak flops undefined for: ",
    "model.safetensors.index.json not found at hf_assets_path: ",
    "While redistributing from (_NormPartial(",
)
# Loggers of their own (a logger's filter applies to the records it emits, not to those that
# reach it from a child), beside the root logger that torchtitan logs on.
_NOISY_LOGGERS = ("", "torch.distributed.tensor._redistribute")


class _DropNoiseLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(NOISE_LOG_LINES)


_LOG_FILTER = _DropNoiseLines()


def silence_known_noise() -> None:
    """Filters the messages above in this process (idempotent)."""
    for text in NOISE_WARNINGS:
        warnings.filterwarnings("ignore", message=re.escape(text))
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if _LOG_FILTER not in logger.filters:
            logger.addFilter(_LOG_FILTER)


def show_ctc_warnings_plainly() -> None:
    """``CtcWarning`` prints as one ``warning: ...`` line (without Python's file, line and
    source line); other warnings as Python shows them."""
    if warnings.showwarning is not _show_warning:
        global _python_showwarning
        _python_showwarning = warnings.showwarning
        warnings.showwarning = _show_warning


_python_showwarning = warnings.showwarning


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    from ctc.errors import CtcWarning

    if issubclass(category, CtcWarning):
        print(f"warning: {message}", file=file or sys.stderr)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)
