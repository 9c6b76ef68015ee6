"""The pass protocol shared by every pass, torch-free.

A pass is a frozen attrs class: ``name`` (its pipeline name), typed option fields with
defaults (the fields are the options, each declared with ``ctc.passes.options.option``), and
``run(module) -> module``. Its docstring says what it guarantees; its first paragraph is the
one-line summary ``ctc pipeline --list`` shows. Class-level declarations let the pipeline
validator check a whole pipeline before anything runs: the stages a pass supports, the passes it
conflicts with, whether it must come last, and the devices it can target.

``str(pass)`` is its pipeline text (``bucket(block, prefetch=2)``), options at their default left
out; ``pass.pipeline_text(explicit=True)`` shows every option.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from ctc.ir.core import STAGES, Module
from ctc.passes.options import OptionSpec, format_invocation, options_of

DEVICES = ("cpu", "cuda")

__all__ = ["DEVICES", "STAGES", "Pass"]


@attrs.frozen
class Pass:
    """Base of all passes. Subclasses set ``name`` and override ``run``."""

    name: ClassVar[str] = ""
    # Stages (function names in the module: @joint, @fwd, @bwd) the pass can work on.
    stages: ClassVar[tuple[str, ...]] = STAGES
    # Names of passes that may not run on the same stage as this one. A pass that names itself
    # may run at most once per stage (bucket(auto) and bucket(block) exclude each other).
    conflicts_with: ClassVar[tuple[str, ...]] = ()
    # Whether the pass must be the last of the pipeline (e.g. cudagraph wrapping).
    must_be_last: ClassVar[bool] = False
    # Target devices the pass supports.
    devices: ClassVar[tuple[str, ...]] = DEVICES
    # Whether the pass only reports on the IR (statistics): it is never expected to change it,
    # so finding nothing to change is not worth a warning.
    analysis: ClassVar[bool] = False

    def run(self, module: Module) -> Module:
        raise NotImplementedError(f"pass {self.name} has no run()")

    @classmethod
    def option_specs(cls) -> tuple[OptionSpec, ...]:
        """The options: the class's fields, in declaration order (positional ones first)."""
        return options_of(cls)

    @classmethod
    def summary(cls) -> str:
        """The first paragraph of the docstring, on one line."""
        return " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())

    def option_values(self) -> dict[str, Any]:
        return {spec.name: getattr(self, spec.name) for spec in self.option_specs()}

    def pipeline_text(self, explicit: bool = False) -> str:
        """The pass as pipeline text; ``explicit`` shows options at their default too."""
        return format_invocation(self.name, self.option_specs(), self.option_values(), explicit)

    def __str__(self) -> str:
        return self.pipeline_text()
