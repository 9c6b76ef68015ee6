"""ctc inside torchtitan's trainer (torch and torchtitan imported).

- ``config``: the ``--compile.*`` (passes, IR dumps, an IR file to train from) and ``--ctc.*``
  (eager check, stop after N steps, progress) sections of the trainer's configuration;
- ``trainer``: ``CtcTrainer``, torchtitan's ``Trainer`` with the step compiled by
  ``ctc.compile`` (``config``, ``check``, ``report``);
- ``check``: ``--ctc.check``, each compiled step against eager on the same weights;
- ``report``: a compiled step's compile time, collectives and simulated communication;
- ``registry``: a ``CtcTrainer.Config`` for a model and flavor, with ctc's corpus and
  tokenizer, which the config modules ``ctc.llama3`` and ``ctc.deepseek_v3`` expose to
  torchtitan's ``--module``/``--config`` (``trainer``).
"""
