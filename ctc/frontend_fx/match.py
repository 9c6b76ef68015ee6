"""Whether an IR module (a file a person may have edited) is the step that was captured.

Training from IR text needs its ``@joint`` to take and return what the capture does: the same
arguments in order (names, types, descriptors: parameter and buffer names, inputs, tangents),
the same result types and descriptors, and the same device mesh. The body is the user's to
change (that is the point), so it is not compared here; lowering checks it op by op.
"""

from __future__ import annotations

from ctc.errors import CtcError
from ctc.ir.core import Module


def check_same_step(given: Module, captured: Module, source: str) -> None:
    """Raises a ``CtcError`` naming the first difference between ``given``'s ``@joint``
    boundary and ``captured``'s."""
    names = [func.name for func in given.functions]
    if "joint" not in names:
        raise CtcError(f"{source} has no @joint to train (functions: {', '.join(names) or 'none'})")
    if given.mesh != captured.mesh:
        raise CtcError(
            f"{source} is for the mesh {_mesh(given)}, and the model runs on {_mesh(captured)}"
        )
    mine, theirs = given.function("joint"), captured.function("joint")
    if len(mine.args) != len(theirs.args):
        raise CtcError(
            f"{source}: @joint takes {len(mine.args)} arguments, and the captured step "
            f"{len(theirs.args)}"
        )
    for index, (a, b, attrs_a, attrs_b) in enumerate(
        zip(mine.args, theirs.args, mine.arg_attrs, theirs.arg_attrs, strict=False)
    ):
        what = f"{source}: argument {index} of @joint (%{a.name})"
        if a.name != b.name:
            raise CtcError(f"{what} is %{b.name} in the captured step")
        if a.type != b.type:
            raise CtcError(f"{what} is {a.type}, and the captured step's is {b.type}")
        if attrs_a != attrs_b:
            raise CtcError(f"{what} has attributes {attrs_a}, and the captured step's {attrs_b}")
    if mine.result_types != theirs.result_types or mine.result_attrs != theirs.result_attrs:
        for index, pair in enumerate(zip(mine.result_types, theirs.result_types, strict=False)):
            if pair[0] != pair[1]:
                raise CtcError(
                    f"{source}: result {index} of @joint is {pair[0]}, and the captured "
                    f"step's is {pair[1]}"
                )
        raise CtcError(
            f"{source}: the results of @joint differ from the captured step's in number or "
            "descriptors"
        )


def _mesh(module: Module) -> str:
    return ",".join(f"{name}={size}" for name, size in module.mesh) or "no mesh"
