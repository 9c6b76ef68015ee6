"""The pass protocol shared by every pass, torch-free.

A pass is a frozen attrs class: ``name`` (its pipeline name), typed option fields with
defaults (the fields are the options, each declared with ``ctc.passes.options.option``), and
``run(module) -> module``. Its docstring says what it guarantees. Class-level declarations let the
pipeline validator check a whole pipeline before anything runs: the stages a pass supports, the
passes it conflicts with, whether it must come last, and the devices it can target.

``str(pass)`` is its pipeline text (``bucket(block, prefetch=1)``), options at their default left
out; ``pass.pipeline_text(explicit=True)`` shows every option.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from ctc.ir.core import Module

STAGES = ("joint", "fwd", "bwd")
DEVICES = ("cpu", "cuda")


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
    # False for a registered pass whose implementation has not landed: refused at validation.
    implemented: ClassVar[bool] = True
    # Whether running it needs torch (the pass manager imports it lazily only then).
    needs_torch: ClassVar[bool] = False

    def run(self, module: Module) -> Module:
        raise NotImplementedError(f"pass {self.name} has no implementation")

    def pipeline_text(self, explicit: bool = False) -> str:
        """The pass as pipeline text; ``explicit`` shows options at their default too."""
        from ctc.passes.options import format_invocation, options_of

        specs = options_of(type(self))
        values = {spec.name: getattr(self, spec.name) for spec in specs}
        return format_invocation(self.name, specs, values, explicit)

    def __str__(self) -> str:
        return self.pipeline_text()
