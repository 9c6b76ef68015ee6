"""Options the scheduling passes share, declared once."""

from __future__ import annotations

from typing import Any

from ctc.passes.options import AnyOf, FloatOption, OptionalOption, SizeOption, option

# A byte size, or a ratio >= 1 over the input's peak memory (``ctc.schedule.memory.resolve_budget``).
MEMORY_BUDGET_KIND = OptionalOption(AnyOf((SizeOption(minimum=1), FloatOption(minimum=1.0))))


def memory_budget_option(when_none: str) -> Any:
    """The ``memory_budget`` field of a scheduling pass; ``when_none`` says what ``none`` means
    for that pass."""
    return option(
        MEMORY_BUDGET_KIND,
        default=None,
        doc=f"peak memory allowed: a size, or a ratio >= 1 over the input's peak; none: {when_none}",
    )
