"""ctc: a compiler toolkit for training parallel PyTorch models.

``import ctc`` loads no torch; ``ctc.capture`` and ``ctc.compile`` import it when first used.

A training step flows through the packages in this order (what each depends on in brackets;
"torch-free" packages import neither torch nor torchtitan, and a test enforces it):

- ``frontend_fx``: capture a step as FX graphs (``aot_export_joint_with_descriptors``) and lift
  them into the IR (torch, ``ir``).
- ``ir``: types, attributes, ops, regions, functions and modules; printer, parser, verifier
  (torch-free).
- ``dsl``: the pipeline language, parsed and validated against the passes' own declarations
  (torch-free; ``passes``' option declarations).
- ``passes``: ``Module -> Module`` passes named in pipeline strings, the pipeline they form and the
  stages they run at (torch-free; ``ir``, ``schedule``).
- ``schedule``: dependency graphs, bucketing, reordering, the cost model and the simulator
  (torch-free; networkx).
- ``lowering``: the IR back to ``torch.fx`` graphs (torch, ``ir``).
- ``backend_inductor``, ``regions_inductor``, ``cudagraphs``, ``compiled``: the IR and a capture
  become a callable step; inductor compiles its regions (or all of it), CUDA graphs replay marked
  stages, ``ctc.compile`` wraps a module (torch, ``lowering``, ``passes``).
- ``api``: ``ctc.capture`` and ``ctc.compile``, the library entry points (torch on call).
- ``trainer``, ``llama3``, ``deepseek_v3``, ``data``: ctc inside torchtitan's trainer, its config
  modules (``--module ctc.llama3``), and text and a tokenizer without a network (torchtitan).
- ``models``: the steps to capture: torchtitan's models with graph_trainer's parallelism, plain
  modules that run on torch 2.11, the tiny test model, meshes and flavors (torch, torchtitan).
- ``calibrate``: measure a machine into a device profile for the simulator (torch).
- ``cli``, ``__main__``, ``prelaunch``, ``launch``, ``ranks``: the ``ctc`` command, its checks
  before any process starts, local rank processes, and what rank 0 decides for all (torch on
  demand).
- ``errors``, ``lark_errors``, ``files``, ``noise``, ``torch_types``, ``compat``: located user
  errors, safe output files, filtered upstream noise, dtype tags, and one module per upstream gap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["capture", "compile"]


def __getattr__(name: str) -> Any:
    if name == "capture":
        from ctc.api import capture

        return capture
    if name == "compile":
        from ctc.api import compile

        return compile
    raise AttributeError(f"module 'ctc' has no attribute {name!r}")
