"""Scheduling, torch-free: dependency graphs, bucketing, comm/compute overlap under a memory
budget, a cost model and a timeline simulator. networkx stays inside this package.

Schedulers return plain decisions (bucket groups, issue and wait slots); the passes apply them.
The modules, from the bottom up, and what each depends on besides ``ctc.ir``:

- ``opinfo``: facts about ops by target name (views, data movement, allocations, bytes);
- ``graph``: flat op lists (regions flattened and re-derived) and their dependency graph
  (``opinfo``, networkx);
- ``rates``: measured matmul rates by shape: a profile's table and the entry that prices a
  matmul;
- ``profile``: device profiles: their schema, the built-in ones, reading them from files
  (``rates``);
- ``cost``: the roofline / NCCL-ring cost model (``opinfo``, ``profile``, ``rates``);
- ``memory``: peak memory by liveness, and memory budgets (``opinfo``);
- ``simulate``: the discrete-event simulator and its Chrome trace (``cost``, ``graph``,
  ``memory``);
- ``units``: a function as a compute skeleton plus communication units, one record per
  collective (its ops, ``Role``, home slots, what the data allows), and back (``graph``);
- ``bucketing``: FSDP roles of units, and buckets with their copy-in/out ops (``units``);
- ``placement``: where each unit is issued and waited, within a budget (``bucketing``,
  ``memory``, ``units``);
- ``plan``: decisions applied: bucket groups merged, placements emitted as functions
  (``bucketing``, ``placement``, ``units``);
- ``auto``: ``bucket(auto)``'s buckets and slots from the cost model (``plan``, ``simulate``);
- ``overlap``: independent compute moved under stalling collectives (``cost``, ``memory``);
- ``phases``: a scheduled joint kept partitionable: forward ops before tangent readers
  (``graph``);
- ``tp_sites``: tensor-parallel all-gathers feeding matmuls, and matmuls feeding
  reduce-scatters, that can be split into chunks (``opinfo``);
- ``tp_chunks``: the ops of a site split into chunks (``bucketing``'s names, ``tp_sites``);
- ``passes``: the ``bucket``, ``reorder`` and ``tp_overlap`` passes (all of the above,
  ``ctc.passes``).
"""
