"""Passes: ``Module -> Module`` transformations named in pipeline strings, and how they run.

Torch-free. The modules, and what each depends on besides ``ctc.ir`` and ``ctc.errors``:

- ``literals``: the values a pipeline literal can be (``Word``, ``Size``, ...);
- ``options``: typed option kinds and ``option()``, which declares one as an attrs field
  (``literals``);
- ``base``: ``Pass``, the protocol every pass follows (``options``);
- ``registry``: the one table, pipeline name -> ``"module.path:ClassName"``, imported lazily
  (``base``);
- ``pipeline``: ``Pipeline``, a sequence of ``PassEntry`` = (stage, pass instance) (``base``);
- ``manager``: runs a pipeline: stage scoping, verification, dumps, timing, reproducers
  (``pipeline``);
- ``stages``: one pipeline over the stages of a training step: which entries run on
  ``@joint``, ``@fwd``, ``@bwd``, their dumps, and passes that found nothing to do
  (``manager``, ``pipeline``);
- ``dce``, ``outline``, ``inline``, ``statistics``: the generic passes (``base``, ``options``);
- ``wrap``: one region around a whole function body (``ctc.ir`` only);
- ``reshard``, ``inductor``, ``cudagraph``: the passes the backend acts on:
  ``reshard_after_forward`` tags FSDP gathers for the partitioner to recompute, the other two mark
  what inductor compiles and what CUDA graphs capture (``base``, ``options``, ``outline``,
  ``wrap``).

``ctc.dsl`` turns pipeline text into a ``Pipeline`` and depends on this package, never the
reverse. The scheduling passes live in ``ctc.schedule.passes``; ``ctc.backend_inductor`` compiles what
the inductor and cudagraph passes mark.

Adding a pass is one file, one registry line and its golden test. The file declares the pass; its
fields are its options, and the pipeline language, ``str(pass)`` and ``ctc pipeline --list`` all
read them from there. ``inline.py`` is the shortest real one with an option (its docstring and
the helper ``inline_regions`` left out)::

    @attrs.frozen
    class InlinePass(Pass):
        name: ClassVar[str] = "inline"

        kind: str = option(
            ChoiceOption((*REGION_KINDS, "all")),
            doc="the kind of region to remove; all: every kind",
        )

        def run(self, module: Module) -> Module:
            functions = tuple(
                f.with_ops(inline_regions(f.ops, self.kind)) for f in module.functions
            )
            return attrs.evolve(module, functions=functions)

Its docstring's first paragraph is the one-line summary, and a ``Guarantees:`` paragraph says
what the result promises. The registry line, in ``registry.PASSES``::

    "inline": "ctc.passes.inline:InlinePass",

The golden test is an input file ``tests/golden/cases/NAME.ctc`` whose first line runs it
(``// RUN: ctc opt %s --passes "inline(kind=block)" --device cpu``) and the expected output
beside it, written by ``pytest tests/golden --update-goldens`` and read as a diff.
"""
