"""Each workaround in ctc.compat covers an upstream gap; each test here fails once its gap closes
(then delete the workaround and the test)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch


def _fresh_python(code: str) -> str:
    """Runs ``code`` in a new interpreter (no patches applied) and returns its stdout."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    return result.stdout.strip()


def test_torchtitan_still_says_cuda_without_an_accelerator() -> None:
    from ctc.compat import torchtitan_device

    if not torchtitan_device.needed():
        return  # an accelerator exists: torchtitan's device_type is right and the shim idles
    device_type = _fresh_python("import torchtitan.tools.utils as u; print(u.device_type)")
    assert device_type == "cuda"


def test_flex_attention_still_refuses_backward_on_the_cpu() -> None:
    import torch.nn.attention.flex_attention as flex

    from ctc.compat import flex_backward_cpu

    original = flex_backward_cpu._ORIGINAL.get("check", flex._validate_device)
    query = torch.randn(1, 1, 16, 8, requires_grad=True)
    with pytest.raises(NotImplementedError, match="does not support backward on CPU"):
        original(query, query, query)


def test_the_patched_check_lets_cpu_backward_through() -> None:
    import torch.nn.attention.flex_attention as flex

    from ctc.compat import flex_backward_cpu

    flex_backward_cpu.apply()
    query = torch.randn(1, 1, 16, 8, requires_grad=True)
    flex._validate_device(query, query, query)
    assert flex_backward_cpu._ORIGINAL["check"] is not flex._validate_device


def test_inductor_still_cannot_compile_flex_attention_with_grad_on_the_cpu() -> None:
    from torch._inductor.exc import InductorError
    from torchtitan.models.common.attention import FlexAttention

    from ctc.compat import flex_backward_cpu, flex_compiled_in_export

    flex_backward_cpu.apply()
    compiled = torch.compile(torch.nn.attention.flex_attention.flex_attention)
    query = torch.randn(1, 2, 128, 16, requires_grad=True)
    with pytest.raises(InductorError, match="IndexError"):
        compiled(query, query, query)
    flex_compiled_in_export.apply()
    assert FlexAttention._compiled_flex_attn is torch.nn.attention.flex_attention.flex_attention


def test_blockmask_is_still_no_pytree_node() -> None:
    registered = _fresh_python(
        "import torch.utils._pytree as p\n"
        "from torch.nn.attention.flex_attention import BlockMask\n"
        "print(BlockMask in p.SUPPORTED_NODES)"
    )
    assert registered == "False"
    from ctc.compat import blockmask_pytree

    blockmask_pytree.apply()
    assert not blockmask_pytree.needed()


def _float8_can_run_here() -> bool:
    import importlib.util

    has_sm89 = torch.cuda.is_available() and torch.cuda.get_device_capability() >= (8, 9)
    return has_sm89 and importlib.util.find_spec("torchao") is not None


def test_torchtitan_s_405b_config_still_builds_float8_converters_that_fail_here() -> None:
    from torchtitan.models.llama3 import config_registry

    if _float8_can_run_here():
        return  # the gap is the CPU's (and older GPUs'): here the config builds
    with pytest.raises((ImportError, ValueError), match=r"torchao|float8 is only supported"):
        config_registry.llama3_405b()


def test_the_405b_config_reads_without_its_float8_converters() -> None:
    from ctc.compat import float8_config

    config, left_out = float8_config.call("torchtitan.models.llama3.config_registry", "llama3_405b")
    assert left_out == ["Float8LinearConverter"]
    assert config.training.seq_len == 8192


def test_torch_distributed_still_has_no_set_timeout() -> None:
    from ctc.compat import distributed_set_timeout

    present = _fresh_python("import torch.distributed as d; print(hasattr(d, 'set_timeout'))")
    assert present == "False"
    distributed_set_timeout.apply()
    assert torch.distributed.set_timeout is distributed_set_timeout.set_timeout  # type: ignore[attr-defined]


def test_the_cpu_device_module_answers_what_the_trainer_asks() -> None:
    from ctc.compat.torchtitan_device import CpuDeviceModule

    stats = CpuDeviceModule.memory_stats()
    assert stats["reserved_bytes.all.peak"] > 0
    assert CpuDeviceModule.get_device_properties().total_memory > stats["reserved_bytes.all.peak"]
    assert CpuDeviceModule.device_count() == 1
