"""``import ctc`` stays torch-free (``ctc.capture`` loads torch when it is called)."""

from __future__ import annotations

import subprocess
import sys


def test_import_ctc_loads_no_torch() -> None:
    code = (
        "import sys, ctc\n"
        "assert ctc.capture.__module__ == 'ctc.api'\n"
        "assert 'torch' not in sys.modules, 'import ctc loaded torch'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr


def test_capture_without_a_mesh_finds_the_model_mesh(tiny_mesh: object) -> None:
    import ctc
    from ctc.models.tiny import build_tiny, tiny_inputs

    module = ctc.capture(build_tiny(tiny_mesh), tiny_inputs())
    assert module.mesh == (("dp_shard", 2), ("tp", 2))
    assert [f.name for f in module.functions] == ["joint"]


def test_capture_of_a_plain_module_has_no_mesh() -> None:
    import torch

    import ctc

    model = torch.nn.Linear(4, 2)
    module = ctc.capture(torch.nn.Sequential(model), (torch.randn(3, 4),), stage="joint")
    joint = module.function("joint")
    assert "mesh" not in module.attributes
    assert [a.get("param").py for a in joint.arg_attrs if "param" in a] == ["0.weight", "0.bias"]
    assert joint.result_attrs[0].get("output").py == 0
