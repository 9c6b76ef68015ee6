"""The FX frontend under its DESIGN.md name: capture a training step and lift it into the IR.
The code lives in the ``ctc.frontend`` package; its docstring states the lifting conventions."""

from __future__ import annotations

from ctc.frontend import (
    STAGES,
    TRACERS,
    Captured,
    Lifter,
    MeshLayout,
    RankGrid,
    annotate_module_paths,
    export_joint,
    grid_of_device_mesh,
    layout_of_device_mesh,
    lift_captured,
    lift_function,
    parse_stages,
    saved_indices,
)

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
