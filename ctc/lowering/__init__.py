"""Lowering: ctc IR -> torch.fx GraphModules (the torch edge on the way out)."""

from __future__ import annotations

from ctc.lowering.to_fx import lower_function

__all__ = ["lower_function"]
