"""Argument types for the command line: numbers within declared ranges, refused by argparse
with the range (``argument --steps: expected a whole number in [1, 1000000], got -1``)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: an int in ``[low, high]``."""

    def parse(text: str) -> int:
        expected = f"expected a whole number in [{low}, {high}]"
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{expected}, got '{text}'") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{expected}, got {value}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in some messages
    return parse


def number(low: float, high: float, low_inclusive: bool = True) -> Callable[[str], float]:
    """An argparse ``type``: a finite float in ``[low, high]`` (``(low, high]`` when not
    ``low_inclusive``)."""
    opening = "[" if low_inclusive else "("

    def parse(text: str) -> float:
        expected = f"expected a number in {opening}{low:g}, {high:g}]"
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{expected}, got '{text}'") from None
        too_low = value < low if low_inclusive else value <= low
        if not math.isfinite(value) or too_low or value > high:
            raise argparse.ArgumentTypeError(f"{expected}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


# Limits that no run on one machine reaches; past them a value is a typo.
MAX_BATCH = 2**20
MAX_SEQ_LEN = 2**24
MAX_STEPS = 10**6
MAX_RANKS = 2**20
