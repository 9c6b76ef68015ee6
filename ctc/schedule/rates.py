"""Measured matmul rates by shape: the table a calibrated device profile carries, how each entry
is checked, and which entry prices a matmul of another shape.

A CPU (or a GPU on small problems) does not reach one peak FLOP/s on every matmul: a 64-row bf16
product runs at a fraction of what a 1024-row one reaches. ``ctc calibrate`` times the matmul
shapes of the captured models, one entry per (dtype, batch, m, k, n, operand layout); the cost
model prices a matmul at the rate of the entry nearest to its shape (``nearest_rate``): the same
dtype, the smallest distance in log space over (batch x m, k, n), a different layout counting as
a factor of two in one dimension. Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ctc.ir.types import DTYPES

# Operand layouts: "n" a row-major operand, "t" a transposed one (the weight of a linear layer
# arrives as ``aten.t`` of a row-major matrix, strides [1, rows]).
LAYOUTS = ("nn", "nt", "tn", "tt")
# How far apart two layouts are, in the log-space distance of ``nearest_rate``.
LAYOUT_DISTANCE = math.log(2.0)


@attrs.frozen
class MatmulRate:
    """FLOP/s measured for ``batch`` products of ``[m, k] x [k, n]`` in ``dtype``."""

    dtype: str
    m: int
    k: int
    n: int
    rate: float
    layout: str = "nn"
    batch: int = 1

    @property
    def flops(self) -> int:
        return 2 * self.batch * self.m * self.k * self.n


# field -> (what it must be, check)
_ENTRY_RULES: dict[str, tuple[str, Any]] = {
    "dtype": (f"one of {', '.join(DTYPES)}", lambda v: isinstance(v, str) and v in DTYPES),
    "m": ("a whole number >= 1", lambda v: _whole(v)),
    "k": ("a whole number >= 1", lambda v: _whole(v)),
    "n": ("a whole number >= 1", lambda v: _whole(v)),
    "rate": (
        "a positive number (FLOP/s)",
        lambda v: _number(v) and math.isfinite(v) and v > 0,
    ),
    "layout": (f"one of {', '.join(LAYOUTS)}", lambda v: v in LAYOUTS),
    "batch": ("a whole number >= 1", lambda v: _whole(v)),
}
_REQUIRED = ("dtype", "m", "k", "n", "rate")


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(value: object) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    return math.isfinite(value) and value == int(value) and value >= 1


def entry_problems(entry: object, where: str, describe: Any) -> list[str]:
    """Why ``entry`` (a JSON object or a ``MatmulRate``) cannot be a table entry; ``where``
    names it in messages (``matmul_rates[3]``), ``describe`` renders a bad value."""
    if isinstance(entry, MatmulRate):
        entry = attrs.asdict(entry)
    if not isinstance(entry, Mapping):
        return [f"{where} must be a JSON object with {', '.join(_REQUIRED)}, got {describe(entry)}"]
    problems = [f"{where}: unknown field {name!r}" for name in entry if name not in _ENTRY_RULES]
    problems += [f"{where}: missing {name}" for name in _REQUIRED if name not in entry]
    for name, value in entry.items():
        rule = _ENTRY_RULES.get(name)
        if rule is not None and not rule[1](value):
            problems.append(f"{where}.{name} must be {rule[0]}, got {describe(value)}")
    return problems


def table_problem(value: object, field: str, describe: Any) -> str | None:
    """Why ``value`` cannot be a rate table (a list of entries), or None."""
    if not isinstance(value, list | tuple):
        return f"{field} must be a list of matmul rate entries, got {describe(value)}"
    problems = [
        problem
        for index, entry in enumerate(value)
        for problem in entry_problems(entry, f"{field}[{index}]", describe)
    ]
    return "; ".join(problems) if problems else None


def table_from_json(value: Sequence[Any]) -> tuple[MatmulRate, ...]:
    """Checked entries (``table_problem`` found nothing) as ``MatmulRate`` records."""
    rates = []
    for entry in value:
        if isinstance(entry, MatmulRate):
            rates.append(entry)
            continue
        fields = {name: entry[name] for name in entry}
        for name in ("m", "k", "n", "batch"):
            if name in fields:
                fields[name] = int(fields[name])
        fields["rate"] = float(fields["rate"])
        rates.append(MatmulRate(**fields))
    return tuple(rates)


def _distance(entry: MatmulRate, rows: int, k: int, n: int, layout: str) -> float:
    return (
        abs(math.log(entry.batch * entry.m / rows))
        + abs(math.log(entry.k / k))
        + abs(math.log(entry.n / n))
        + (0.0 if entry.layout == layout else LAYOUT_DISTANCE)
    )


def nearest_rate(
    table: Sequence[MatmulRate], dtype: str, batch: int, m: int, k: int, n: int, layout: str
) -> float | None:
    """The rate of the table entry nearest to this product (see the module docstring), or None
    when the table has no entry of ``dtype``. Ties go to the earlier entry."""
    if min(batch, m, k, n) < 1:
        return None
    best: tuple[float, MatmulRate] | None = None
    for entry in table:
        if entry.dtype != dtype:
            continue
        distance = _distance(entry, batch * m, k, n, layout)
        if best is None or distance < best[0]:
            best = (distance, entry)
    return None if best is None else best[1].rate
