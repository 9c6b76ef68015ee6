"""Which ops do something besides computing their results, by name: the one rule that dead-code
elimination (may it drop the op?) and scheduling (may it move the op?) share.

An in-place op (``aten.add_.Tensor``, ``aten.copy_.default``) writes memory; a random op advances
the generator, so removing or moving one changes what every later random op draws; asserts,
prints and functionalized effects must stay where they are.
"""

from __future__ import annotations

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
    """The operator of an op name: ``add_`` in ``aten.add_.Tensor``."""
    return op_name.split(".")[1] if "." in op_name else op_name


def effectful_name(op_name: str) -> bool:
    """Whether an op of this name mutates memory, draws random numbers, or is an effect."""
    packet = packet_name(op_name)
    if packet.endswith("_") and not packet.endswith("__"):
        return True
    if op_name.startswith(EFFECTFUL_PREFIXES):
        return True
    return any(word in packet for word in RANDOM_WORDS)
