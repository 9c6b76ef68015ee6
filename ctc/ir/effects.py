"""Which ops do something besides computing their results: the one effect rule, and the two
questions passes ask of it.

An in-place op (``aten.add_.Tensor``, ``aten.copy_.default``) writes memory; a random op advances
the generator, so removing or moving one changes what every later random op draws; asserts,
prints and functionalized effects must stay where they are (``has_effects``). From that rule:

- ``kept_without_uses``: dead-code elimination keeps such an op, and any op without results
  (it exists for what it does), even when nothing reads it;
- ``ordered_by_effects``: scheduling keeps such ops, and aten/prims ops without results, in
  order among themselves and after earlier readers of what they write; regions and
  ``ctc.return`` are structure, not effects.
"""

from __future__ import annotations

from ctc.ir.core import Op
from ctc.ir.ops import RegionOp, ReturnOp

EFFECTFUL_PREFIXES = (
    "aten._assert",
    "aten.sym_constrain_range",
    "aten._print",
    "higher_order.auto_functionalized",
    "higher_order.with_effects",
    "higher_order.run_and_save_rng_state",
    "higher_order.run_with_rng_state",
)
RANDOM_WORDS = (
    "rand",
    "bernoulli",
    "dropout",
    "normal",
    "uniform",
    "exponential",
    "multinomial",
    "poisson",
    "cauchy",
    "geometric",
    "philox",
    "seed",
)


def packet_name(op_name: str) -> str:
    """The operator of an op name without namespace and overload: ``add_`` in
    ``aten.add_.Tensor``; every overload of an operator shares it."""
    return op_name.split(".")[1] if "." in op_name else op_name


def _writes_in_place(packet: str) -> bool:
    # aten's convention: a trailing underscore mutates (``add_``); dunders do not (``__and__``).
    return packet.endswith("_") and not packet.endswith("__")


def is_inplace(op: Op) -> bool:
    """An aten op that writes into its first operand and returns it (``aten.copy_``)."""
    return op.name.startswith("aten.") and _writes_in_place(packet_name(op.name))


def has_effects(op: Op) -> bool:
    """The effect rule: ``op`` mutates memory, draws random numbers, or is an effect."""
    packet = packet_name(op.name)
    if _writes_in_place(packet):
        return True
    if op.name.startswith(EFFECTFUL_PREFIXES):
        return True
    return any(word in packet for word in RANDOM_WORDS)


def kept_without_uses(op: Op) -> bool:
    """Whether dead-code elimination must keep ``op`` although nothing reads its results: it has
    effects, or it has no results and exists for what it does."""
    return not op.results or has_effects(op)


def ordered_by_effects(op: Op) -> bool:
    """Whether scheduling must keep ``op`` in place among the other such ops (and after earlier
    readers of what it mutates): an op with effects, or an aten/prims op without results."""
    if isinstance(op, RegionOp | ReturnOp):
        return False
    return has_effects(op) or (not op.results and op.name.startswith(("aten.", "prims.")))
