"""ctc.data's docstring names each of its modules, and importing it loads no torch."""

from __future__ import annotations

import subprocess
import sys

from tests.test_package_docs import named_modules, package_modules


def test_the_docstring_names_every_module() -> None:
    assert named_modules("ctc.data") == package_modules("ctc.data")


def test_importing_ctc_data_loads_neither_torch_nor_torchtitan() -> None:
    code = (
        "import sys\nimport ctc.data\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchtitan'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
