"""Scheduling, torch-free: dependency graphs, bucketing, comm/compute overlap under a memory
budget, a cost model and a timeline simulator. networkx stays inside this package.

- ``graph``: flat op lists (regions flattened and re-derived) and their dependency graph;
- ``cost``: device profiles and the roofline / NCCL-ring cost model;
- ``memory``: peak memory by liveness;
- ``simulate``: the discrete-event simulator and its Chrome trace;
- ``units``, ``placement``, ``bucketing``, ``plan``, ``auto``: the decisions of the passes;
- ``passes``: ``bucket`` and ``reorder``.
"""
