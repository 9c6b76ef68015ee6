"""FX node metadata -> the op's ``Loc``: module path, phase, sequence number, recompute policy,
checkpoint region and user annotations.

What is kept, and from where:
  module       the last ``nn_module_stack`` (or ``fwd_nn_module_stack``) entry's path (dynamo),
               else ``custom["module_fqn"]`` (graph_trainer's annotation, the direct tracer)
  phase        ``partitioner_tag`` (``is_forward``/``is_backward``), else ``autograd_backward``
  seq          ``seq_nr`` minus ``seq_base`` (the smallest ``seq_nr`` of the captured joint), so
               that a dump does not depend on what ran before it in the process
  recompute    ``recompute`` (a ``CheckpointPolicy``), lowercased: ``must_recompute``
  ac_graph_id  ``ac_graph_id``
  annotations  ``custom`` as it is (JSON-like values only)
Other keys (``val``/``tensor_meta`` become the result types; ``desc`` the boundary attributes;
``stack_trace``, ``original_aten``, ``eager_input_vals``, ``is_gradient_acc``,
``from_node``, ``source_fn_stack``) are debugging aids that lowering recomputes or does not need.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch.fx as fx

from ctc.errors import CtcError
from ctc.ir.attributes import DictAttr, to_attr
from ctc.ir.core import Loc

PHASES = {"is_forward": "fwd", "is_backward": "bwd"}

# Dynamo module paths look like "L['self'].model.layers[0]" or "L['self']._modules['w1']".
_SELF_PREFIX = re.compile(r"^L\['self'\]\.?|^L\[\"self\"\]\.?")
_MODULES_ITEM = re.compile(r"_modules\[['\"]([^'\"]+)['\"]\]")
_INDEX = re.compile(r"\[['\"]?([^\]'\"]+)['\"]?\]")


def module_path_of_dynamo(path: str) -> str:
    """``L['self'].layers[0]._modules['w1']`` -> ``layers.0.w1``."""
    path = _SELF_PREFIX.sub("", path)
    path = _MODULES_ITEM.sub(r"\1", path)
    path = _INDEX.sub(r".\1", path)
    return ".".join(part for part in path.split(".") if part)


def module_path(meta: Mapping[str, Any]) -> str | None:
    for key in ("nn_module_stack", "fwd_nn_module_stack"):
        stack = meta.get(key)
        if stack:
            path, _ = list(stack.values())[-1]
            return module_path_of_dynamo(str(path))
    custom = meta.get("custom")
    if isinstance(custom, Mapping) and isinstance(custom.get("module_fqn"), str):
        return str(custom["module_fqn"])
    return None


def phase(meta: Mapping[str, Any]) -> str | None:
    tag = meta.get("partitioner_tag")
    if tag in PHASES:
        return PHASES[tag]
    if meta.get("autograd_backward"):
        return "bwd"
    return None


def _json_like(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_json_like(item) for item in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _json_like(v) for k, v in value.items())
    return False


def annotations_of(node: fx.Node) -> DictAttr | None:
    custom = node.meta.get("custom")
    if not custom:
        return None
    if not isinstance(custom, Mapping) or not _json_like(custom):
        raise CtcError(
            f"node %{node.name} ({node.op} {node.target}) has an annotation the IR cannot "
            f"hold: meta['custom'] = {custom!r} (values must be str, int, float, bool, None, "
            "lists or dicts with string keys)"
        )
    attribute = to_attr(dict(custom))
    assert isinstance(attribute, DictAttr)
    return attribute


def seq_base(module: fx.GraphModule) -> int:
    """The smallest ``seq_nr`` in a graph (0 when it has none)."""
    numbers = [
        n.meta["seq_nr"] for n in module.graph.nodes if isinstance(n.meta.get("seq_nr"), int)
    ]
    return min(numbers, default=0)


def loc_of(node: fx.Node, base: int = 0) -> Loc:
    meta = node.meta
    seq = meta.get("seq_nr")
    recompute = meta.get("recompute")
    ac_graph_id = meta.get("ac_graph_id")
    return Loc(
        module=module_path(meta),
        phase=phase(meta),
        seq=int(seq) - base if isinstance(seq, int) else None,
        recompute=recompute.name.lower() if recompute is not None else None,
        ac_graph_id=int(ac_graph_id) if ac_graph_id is not None else None,
        annotations=annotations_of(node),
    )
