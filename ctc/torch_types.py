"""The torch edge of the type system: short dtype names <-> torch dtypes, and attribute tags
(``#dtype<bf16>``, ``#device<cpu>``, ``#layout<strided>``, ``#memory_format<...>``) <-> torch
objects. Shared by the frontend (lift) and lowering so the two stay inverse."""

from __future__ import annotations

import torch

from ctc.ir.attributes import TagAttr

DTYPE_TO_TORCH: dict[str, torch.dtype] = {
    "f64": torch.float64,
    "f32": torch.float32,
    "f16": torch.float16,
    "bf16": torch.bfloat16,
    "f8e4m3fn": torch.float8_e4m3fn,
    "f8e4m3fnuz": torch.float8_e4m3fnuz,
    "f8e5m2": torch.float8_e5m2,
    "f8e5m2fnuz": torch.float8_e5m2fnuz,
    "c64": torch.complex64,
    "c128": torch.complex128,
    "i64": torch.int64,
    "i32": torch.int32,
    "i16": torch.int16,
    "i8": torch.int8,
    "u8": torch.uint8,
    "u16": torch.uint16,
    "u32": torch.uint32,
    "u64": torch.uint64,
    "b8": torch.bool,
}
TORCH_TO_DTYPE: dict[torch.dtype, str] = {v: k for k, v in DTYPE_TO_TORCH.items()}

LAYOUTS: dict[str, torch.layout] = {
    "strided": torch.strided,
    "sparse_coo": torch.sparse_coo,
    "sparse_csr": torch.sparse_csr,
    "jagged": torch.jagged,
}
MEMORY_FORMATS: dict[str, torch.memory_format] = {
    "contiguous_format": torch.contiguous_format,
    "channels_last": torch.channels_last,
    "channels_last_3d": torch.channels_last_3d,
    "preserve_format": torch.preserve_format,
}


def tag_of(value: object) -> TagAttr | None:
    """The tag attribute of a torch object, or None when ``value`` is not one."""
    if isinstance(value, torch.dtype):
        return TagAttr("dtype", TORCH_TO_DTYPE[value])
    if isinstance(value, torch.device):
        return TagAttr("device", str(value))
    if isinstance(value, torch.layout):
        return TagAttr("layout", next(k for k, v in LAYOUTS.items() if v == value))
    if isinstance(value, torch.memory_format):
        return TagAttr("memory_format", next(k for k, v in MEMORY_FORMATS.items() if v == value))
    return None


def torch_of(tag: TagAttr) -> object:
    """The torch object a tag attribute stands for (``#op`` and ``#region`` are resolved by
    lowering, which knows the op and its regions)."""
    if tag.tag == "dtype":
        return DTYPE_TO_TORCH[tag.value]
    if tag.tag == "device":
        return torch.device(tag.value)
    if tag.tag == "layout":
        return LAYOUTS[tag.value]
    if tag.tag == "memory_format":
        return MEMORY_FORMATS[tag.value]
    raise ValueError(f"#{tag.tag}<{tag.value}> has no plain torch value")
