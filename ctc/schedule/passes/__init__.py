"""The scheduling passes, registered by name in ``ctc.passes.registry``:

- ``bucket``: FSDP collectives bucketed per block or by the cost model, and prefetched;
- ``reorder``: collectives issued early and waited late within a memory budget;
- ``tp_overlap``: tensor-parallel collectives split into chunks that overlap their matmuls;
- ``options``: the options they share (``memory_budget``), declared once.
"""
