"""What ``ctc calibrate`` times is read from IR: every distinct matmul and attention shape, and
memory-bound kernel sizes."""

from __future__ import annotations

from pathlib import Path

from ctc.calibrate.shapes import DEFAULT, QUICK, quick_subset, workload_of
from ctc.ir import parse_file, parse_module

EXAMPLES = Path(__file__).parents[2] / "examples"

ATTENTION = """
module {
  func @joint(%q: bf16[1,8,64,16, strides=[8192,16,128,1]], %w: bf16[16,16]) -> (bf16[1,8,64,16]) {
    %o, %l = aten._scaled_dot_product_flash_attention_for_cpu.default(%q, %q, %q) {dropout_p = 0.0, is_causal = true} : (bf16[1,8,64,16], f32[1,8,64])
    %f = aten.view.default(%o) {size = [512, 16]} : bf16[512,16]
    %t = aten.t.default(%w) : bf16[16,16, strides=[1,16]]
    %m = aten.mm.default(%f, %t) : bf16[512,16]
    %m2 = aten.mm.default(%f, %t) : bf16[512,16]
    %s = aten.add.Tensor(%m, %m2) : bf16[512,16]
    ctc.return(%o)
  }
}
"""


def test_shapes_come_from_the_ir_once_each() -> None:
    workload = workload_of([parse_module(ATTENTION)])
    assert [(s.dtype, s.m, s.k, s.n, s.layout) for s in workload.matmuls] == [
        ("bf16", 512, 16, 16, "nt")
    ]
    (attention,) = workload.attentions
    assert (attention.heads, attention.q_seq, attention.qk_dim, attention.causal) == (
        8,
        64,
        16,
        True,
    )
    assert attention.flops == 4 * 8 * 64 * 16 * 64 // 2
    assert workload.memory_bytes == (3 * 512 * 16 * 2,)


def test_an_example_program_and_the_defaults() -> None:
    workload = workload_of([parse_file(EXAMPLES / "two_block_fsdp.ctc")])
    assert workload.matmuls and all(s.m > 0 for s in workload.matmuls)
    assert workload.memory_bytes  # memory-bound kernels, or the default sizes
    assert DEFAULT.matmuls and DEFAULT.attentions and QUICK.matmuls
    small = quick_subset(DEFAULT, matmuls=4)
    assert len(small.matmuls) == 4 and len(small.attentions) == 1
