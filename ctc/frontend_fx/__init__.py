"""The frontend: capture a training step as FX graphs and lift them into the ctc IR.

``export_joint`` captures with ``aot_export_joint_with_descriptors``; ``lift_captured`` turns the
joint graph (and, through torch's default partitioner, the forward and backward graphs) into an
IR ``Module``. ``ctc.capture`` (``ctc/api.py``) does both. The lifting conventions, which
``ctc.lowering`` inverts:

1. Functions are named after their stage: ``@joint``, ``@fwd``, ``@bwd``. Arguments keep the FX
   placeholder names (``primals_3``, ``tangents_1``; a backward graph's saved values keep their
   forward names). Boundary attributes (``ctc.frontend_fx.boundary``): ``desc = "<exact repr of the
   AOT descriptor>"`` plus a friendly key on tensors: ``param``/``buffer = "fqn"``,
   ``input = idx``, ``tangent = position``; results ``loss``/``output = idx``, ``grad = "fqn"``,
   ``grad_input = idx``, ``mutated``; and ``saved = idx`` on saved values of any type. A
   DTensor's device mesh argument is ``opaque<device_mesh>``. Results may repeat arguments
   and may be ``none``.
2. An OpOverload prints as ``ns.op.overload``. Arguments that mention a node (a node, or a
   list holding one) are operands, in schema order; constant arguments are attributes named by
   the schema argument; arguments left to their defaults are absent. Inside operand lists
   constants stay literals and None is ``none``. ``torch.dtype`` -> ``#dtype<bf16>`` (short
   names of ``ctc.ir.types.DTYPES``, table in ``ctc.torch_types``), ``#device<cpu>``,
   ``#layout<strided>``, ``#memory_format<contiguous_format>``.
3. A node whose value is a tuple/list (``split``, ``topk``, flex attention) is one op with one
   result per element, each named after its ``operator.getitem`` user (the getitems vanish);
   an unused element is named ``{node}_{i}`` (``{node}_{i}_{k}`` if that name is taken).
4. Functional collectives become ``coll.all_gather {group, size, dim = 0}``,
   ``coll.reduce_scatter {group, size, dim = 0, reduce_op}``, ``coll.all_reduce {group, size,
   reduce_op}``, ``coll.all_to_all {group, size}`` (split sizes are attributes
   ``output_split_sizes``/``input_split_sizes`` when constant, else operands after the input, in
   that order) and ``coll.wait``. A ``wait_tensor`` of a value that is no pending collective
   result (expert-parallel graphs wait twice on some) is a no-op that stays the plain op
   ``_c10d_functional.wait_tensor.default``; size queries (``aten.sym_size.int``) may read a
   pending result. ``group`` is the mesh dimension, or a list of them for a flattened group
   (``ctc.frontend_fx.groups``); the module attribute ``mesh = [["dp_shard", 2], ["tp", 4]]``
   lists the dimensions in order. ``MeshLayout.group_names()`` is the inverse map.
5. A higher-order op is ``higher_order.<name>``; its operands are the FX arguments in order
   (constants as literals, tuples as lists), each sub-graph argument replaced by ``#region<i>``
   and lifted as region ``i`` (block arguments = its placeholders, ending in ``ctc.yield``, with
   ``{sequence = "list"}`` / ``{sequence = "tuple"}`` when it returns one (vmap and autograd
   compare the structure); a sub-graph two ops use is lifted into
   each). Attributes are the FX kwargs.
6. Any other callable is ``python.<module>.<name>`` (``python._operator.mul``,
   ``python.torch.sym_sum``) with positional operands and kwargs as attributes.
7. ``loc``: ``module``, ``phase``, ``seq`` (counted from the joint's smallest ``seq_nr``),
   ``recompute``, ``ac_graph_id``, ``annotations`` from the node's meta (``ctc.frontend_fx.meta``).
8. Types from ``meta["val"]``: dtype, shape (a symbolic size prints as its expression, ``u0``),
   strides when not contiguous; SymInt/SymFloat/SymBool -> ``int``/``float``/``bool``; script
   objects -> ``opaque<kind>``.
9. A tensor constant (``get_attr`` of a real tensor) becomes an op that rebuilds it, named as
   the node: ``aten.full.default {size, fill_value, dtype, device}`` when all its elements are
   equal (``size = []`` for a 0-d constant, the only kind torchtitan's graphs hold), else
   ``python.torch.tensor([...]) {dtype, device}`` up to ``MAX_CONSTANT_ELEMENTS``. A sub-graph
   ``get_attr`` becomes a region of the op that uses it.
Anything else (call_module nodes, values without ``meta["val"]`` that are used, other
collectives, non-JSON annotations, fake constants) is a ``CtcError`` naming the node.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.fx as fx

from ctc.errors import CtcError
from ctc.frontend_fx.export import TRACERS, Captured, annotate_module_paths, export_joint
from ctc.frontend_fx.groups import MeshLayout, RankGrid, grid_of_device_mesh, layout_of_device_mesh
from ctc.frontend_fx.lift import Lifter, lift_function
from ctc.frontend_fx.meta import seq_base
from ctc.ir.attributes import DictAttr
from ctc.ir.core import STAGES, Func, Module
from ctc.ir.verifier import verify

__all__ = [
    "STAGES",
    "TRACERS",
    "Captured",
    "Lifter",
    "MeshLayout",
    "RankGrid",
    "annotate_module_paths",
    "export_joint",
    "grid_of_device_mesh",
    "layout_of_device_mesh",
    "lift_captured",
    "lift_function",
    "parse_stages",
    "saved_indices",
]


def parse_stages(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"joint"``, ``"fwd,bwd"``, ... -> the stages in canonical order."""
    names = [s.strip() for s in text.split(",")] if isinstance(text, str) else list(text)
    unknown = [name for name in names if name not in STAGES]
    if unknown or not names:
        raise CtcError(
            f"unknown stage '{unknown[0] if unknown else ''}' (stages: {', '.join(STAGES)}, "
            "or a comma-separated list of them)"
        )
    return tuple(stage for stage in STAGES if stage in names)


def saved_indices(forward: fx.GraphModule) -> dict[str, int]:
    """Names of the values a forward graph saves for backward -> their saved index."""
    output = forward.graph.find_nodes(op="output")[0]
    descs = output.meta.get("desc") or []
    saved: dict[str, int] = {}
    for item, desc in zip(output.args[0], descs, strict=False):
        if isinstance(item, fx.Node) and type(desc).__name__.startswith("SavedForBackwards"):
            saved.setdefault(item.name, desc.idx)
    return saved


def lift_captured(
    captured: Captured, layout: MeshLayout | None, stages: Sequence[str] = ("joint",)
) -> Module:
    """The IR of a capture: ``@joint`` and/or the partitioned ``@fwd``/``@bwd``, verified."""
    functions: list[Func] = []
    base = seq_base(captured.graph_module)
    if "joint" in stages:
        functions.append(lift_function(captured.graph_module, "joint", layout, seq_base=base))
    if "fwd" in stages or "bwd" in stages:
        forward, backward = captured.partition()
        if "fwd" in stages:
            functions.append(lift_function(forward, "fwd", layout, seq_base=base))
        if "bwd" in stages:
            saved = saved_indices(forward)
            functions.append(lift_function(backward, "bwd", layout, saved, seq_base=base))
    entries: dict[str, object] = {"mesh": layout.mesh_attribute()} if layout else {}
    if captured.decompositions is not None:
        entries["decompositions"] = captured.decompositions
    attributes = DictAttr.of(entries)
    module = Module(tuple(functions), attributes)
    problems = verify(module)
    if problems:
        shown = "\n  ".join(str(p) for p in problems[:5])
        more = f"\n  ... and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise CtcError(f"the lifted IR does not verify (a frontend bug):\n  {shown}{more}")
    return module
