"""The ctc IR: types, attributes, ops, blocks, functions and modules; printer, parser, verifier.

Torch-free by design: aten targets are strings here, and torch appears only at the edges
(``ctc.frontend_fx``, ``ctc.lowering``, ``ctc.backend_inductor``).
"""

from __future__ import annotations

from ctc.ir.attributes import (
    Attribute,
    BoolAttr,
    DictAttr,
    FloatAttr,
    IntAttr,
    ListAttr,
    NoneAttr,
    StrAttr,
    TagAttr,
    to_attr,
)
from ctc.ir.core import Block, Func, Loc, Module, Op, Operand, OperandList, Value, walk_ops
from ctc.ir.ops import (
    COLLECTIVE_NAMES,
    OP_CLASSES,
    REGION_KINDS,
    AllGatherOp,
    AllReduceOp,
    AllToAllOp,
    CollectiveOp,
    GenericOp,
    ReduceScatterOp,
    RegionOp,
    ReturnOp,
    WaitOp,
    YieldOp,
    make_op,
    op_class,
)
from ctc.ir.parser import parse_file, parse_module
from ctc.ir.printer import print_module, print_op
from ctc.ir.types import NoneType, OpaqueType, ScalarType, TensorType, Type, tensor
from ctc.ir.verifier import Problem, VerificationError, check, verify

__all__ = [
    "COLLECTIVE_NAMES",
    "OP_CLASSES",
    "REGION_KINDS",
    "AllGatherOp",
    "AllReduceOp",
    "AllToAllOp",
    "Attribute",
    "Block",
    "BoolAttr",
    "CollectiveOp",
    "DictAttr",
    "FloatAttr",
    "Func",
    "GenericOp",
    "IntAttr",
    "ListAttr",
    "Loc",
    "Module",
    "NoneAttr",
    "NoneType",
    "Op",
    "OpaqueType",
    "Operand",
    "OperandList",
    "Problem",
    "ReduceScatterOp",
    "RegionOp",
    "ReturnOp",
    "ScalarType",
    "StrAttr",
    "TagAttr",
    "TensorType",
    "Type",
    "Value",
    "VerificationError",
    "WaitOp",
    "YieldOp",
    "check",
    "make_op",
    "op_class",
    "parse_file",
    "parse_module",
    "print_module",
    "print_op",
    "tensor",
    "to_attr",
    "verify",
    "walk_ops",
]
