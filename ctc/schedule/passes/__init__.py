"""The scheduling passes: ``bucket`` (block or auto) and ``reorder``. Registered by name in
``ctc.passes.registry`` and imported lazily from there."""
