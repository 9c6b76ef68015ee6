"""Wrapping a whole function body in one region (``inductor(all)``, ``cudagraph``)."""

from __future__ import annotations

from ctc.ir.core import Block, Func
from ctc.ir.ops import RegionOp, make_op


def wrap_body(func: Func, kind: str, name: str) -> Func:
    """``func`` with every op but the final ``ctc.return`` inside one region of ``kind`` (as is
    when it already is one such region)."""
    body, terminator = func.ops[:-1], func.ops[-1:]
    if not body or (len(body) == 1 and isinstance(body[0], RegionOp) and body[0].kind == kind):
        return func
    region = make_op(
        "ctc.region", attributes={"kind": kind, "name": name}, regions=[Block(tuple(body))]
    )
    return func.with_ops((region, *terminator))
