"""``inductor``: marks, in the IR, what the backend compiles with inductor.

A torch-free rewrite, so ``ctc opt`` shows exactly what will be compiled. The backend
(``ctc.backend_inductor``) outlines each ``ctc.region {kind = "inductor"}`` into a submodule and
compiles it; everything else runs op by op.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from ctc.errors import CtcError
from ctc.ir.core import Func, Module, Op, walk_ops
from ctc.passes.base import Pass
from ctc.passes.options import ChoiceOption, option
from ctc.passes.outline import COMPILED_BY_DEFAULT, Key, OutlineRule, inductor_key, outline_ops
from ctc.passes.wrap import wrap_body

# The module attribute a capture sets when it exported with inductor's decomposition table.
DECOMPOSITIONS_ATTRIBUTE = "decompositions"


@attrs.frozen
class InductorPass(Pass):
    """Marks what inductor compiles: annotated regions, or the whole graph.

    ``regions``: every maximal run of ops of one inductor region and phase becomes a
    ``ctc.region {kind = "inductor"}``. An op belongs to a region when it carries a
    ``compile_with_inductor`` annotation (``torch.fx.traceback.annotate``; the region's name is
    the annotation's text, its ``inductor_region`` entry, or the op's module path; its
    ``inductor_configs`` entry becomes the region's attribute, the first op's winning) or is one
    of FlexAttention's higher-order ops or another op of the module calling it (its wrapper, as
    the reference annotated it). ``all``: the whole body
    is one region; the step must have been captured with inductor's decomposition table (a
    pipeline with ``inductor(all)`` makes ``ctc.compile`` and ``ctc capture`` do so), which the
    module records as ``decompositions = "inductor"``.

    Guarantees: no other op is put in a region; op order, names and values are unchanged;
    ``inductor(all)`` on a module captured without the table is refused with that reason.
    """

    name: ClassVar[str] = "inductor"
    stages: ClassVar[tuple[str, ...]] = ("fwd", "bwd")

    scope: str = option(
        ChoiceOption(("regions", "all")),
        doc="regions: annotated regions and FlexAttention; all: the whole graph",
        positional=True,
    )

    def run(self, module: Module) -> Module:
        if self.scope == "all":
            _check_decompositions(module)

        def rewrite(func: Func) -> Func:
            if self.scope == "all":
                return wrap_body(func, "inductor", func.name)
            return func.with_ops(outline_ops(func.ops, "inductor", _regions_rule(func)))

        functions = tuple(rewrite(func) for func in module.functions)
        return attrs.evolve(module, functions=functions)


def _regions_rule(func: Func) -> OutlineRule:
    """Annotated ops and FlexAttention's higher-order ops, with the other ops of the module that
    calls FlexAttention (its wrapper: the transposes around it), per phase."""
    flex_modules = {
        (op.loc.module, op.loc.phase)
        for op in walk_ops(func.ops)
        if op.name in COMPILED_BY_DEFAULT and op.loc.module
    }

    def key(op: Op) -> Key | None:
        own = inductor_key(op)
        if own is not None:
            return own
        if (op.loc.module, op.loc.phase) in flex_modules:
            return (str(op.loc.module), op.loc.phase)
        return None

    return OutlineRule(key, fill_gaps=False)


def _check_decompositions(module: Module) -> None:
    table = module.attributes.get(DECOMPOSITIONS_ATTRIBUTE)
    if table is None or table.py != "inductor":
        raise CtcError(
            "inductor(all) compiles the whole graph, which needs the step captured with "
            "inductor's decomposition table, and this module was not (its attributes have no "
            'decompositions = "inductor"); capture it with a pipeline that has inductor(all) '
            "(ctc.compile, ctc train) or with `ctc capture --decompositions inductor`"
        )
