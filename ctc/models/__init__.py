"""Models to capture: torchtitan's llama3 and deepseek_v3 with graph_trainer's parallelism
(``ctc.models.torchtitan``), a tiny TP+FSDP step for tests (``ctc.models.tiny``), and mesh specs
(``ctc.models.mesh``, torch-free). Import the submodules; this package imports nothing heavy."""
