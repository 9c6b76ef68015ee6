"""``ctc calibrate``: measure this machine, one quantity at a time, into a device profile.

Each quantity the cost model (``ctc.schedule.cost``) reads is timed alone, never a training step:
the rates of the matmul shapes and attention shapes of the captured models (or a default set),
memory-bound kernels at the sizes the models run, the per-kernel and per-view overhead and, on a
CPU, gloo collectives of every group size a mesh over the ranks can have, between real processes.
There is no correction factor per model or pipeline. On a CPU the ranks share the cores, so the
profile is measured at the process count it will be used with.

Modules, and what each imports besides ``ctc.errors``:

- ``shapes``: what to time: shapes read from IR files, or defaults (torch-free; ``ctc.ir``,
  ``ctc.schedule``);
- ``measure``: timing compute kernels with torch on a CPU or a CUDA device (torch);
- ``collectives``: timing gloo collectives in every rank (torch.distributed);
- ``fit``: the cost model's formulas solved for the profile's fields (torch-free);
- ``run``: where it runs (``ctc.launch`` ranks on a CPU, this process on a GPU) and the profile
  it gives (``ctc.schedule.profile``).

Nothing here imports torchtitan, so calibration runs wherever torch does (torch 2.11 on a GPU
machine without torchtitan included).
"""
