"""The simulator on cases worked out by hand, and its trace."""

from __future__ import annotations

import json

import pytest

from ctc.ir import Value, make_op, parse_module, tensor
from ctc.schedule.cost import CostModel, op_bytes
from ctc.schedule.profile import DeviceProfile
from ctc.schedule.simulate import chrome_trace, simulate_module

# 1 GFLOP/s, 10 MB/s links, no latency, overhead or memory time: times are easy to count.
PROFILE = DeviceProfile(
    name="round",
    flops_bf16=1e9,
    flops_f32=1e9,
    memory_bandwidth=1e18,
    intra_node_bandwidth=1e7,
    inter_node_bandwidth=1e7,
    matmul_efficiency=1.0,
    memory_efficiency=1.0,
    kernel_overhead=0.0,
    intra_node_latency=0.0,
    intra_node_hop_latency=0.0,
    inter_node_latency=0.0,
    inter_node_hop_latency=0.0,
)

# An mm of two f32[100,100] is 2e6 FLOPs: 2 ms. An all-gather of f32[N] into 2N moves N*4 bytes
# per rank on the ring: N = 2500 is 10 kB, 1 ms; N = 7500 is 3 ms.
HEADER = 'module {mesh = [["dp", 2]]} {\n func @joint(%a: f32[100,100], %b: f32[100,100], '


def _report(body: str, args: str) -> dict[str, float]:
    text = HEADER + args + ") -> (f32[]) {\n" + body + "\n }\n}\n"
    module = parse_module(text)
    report = simulate_module(module, CostModel(PROFILE, module.mesh))[0]
    return {key: value for key, value in report.to_json().items() if key != "streams"}  # type: ignore[misc]


def test_one_collective_hidden_under_one_matmul() -> None:
    report = _report(
        """
  %ag = coll.all_gather(%p) {dim = 0, group = "dp", size = 2} : f32[5000]
  %c = aten.mm.default(%a, %b) : f32[100,100]
  %w = coll.wait(%ag) : f32[5000]
  %s = aten.sum.default(%w) : f32[]
  ctc.return(%s)""",
        "%p: f32[2500]",
    )
    assert report["step_ms"] == pytest.approx(2.0)
    assert report["compute_ms"] == pytest.approx(2.0)
    assert report["comm_ms"] == pytest.approx(1.0)
    assert report["exposed_comm_ms"] == pytest.approx(0.0, abs=1e-9)
    assert report["lower_bound_ms"] == pytest.approx(2.0)
    assert report["collectives"] == 1


def test_collective_longer_than_the_matmul_is_exposed_at_its_wait() -> None:
    report = _report(
        """
  %ag = coll.all_gather(%p) {dim = 0, group = "dp", size = 2} : f32[15000]
  %c = aten.mm.default(%a, %b) : f32[100,100]
  %w = coll.wait(%ag) : f32[15000]
  %s = aten.sum.default(%w) : f32[]
  ctc.return(%s)""",
        "%p: f32[7500]",
    )
    assert report["step_ms"] == pytest.approx(3.0)
    assert report["exposed_comm_ms"] == pytest.approx(1.0)
    assert report["lower_bound_ms"] == pytest.approx(3.0)


def test_exposed_tail_after_the_last_compute() -> None:
    # A reduce-scatter of f32[100,100] (40 kB) moves 20 kB per rank: 2 ms, after 2 ms of mm.
    report = _report(
        """
  %c = aten.mm.default(%a, %b) : f32[100,100]
  %rs = coll.reduce_scatter(%c) {dim = 0, group = "dp", reduce_op = "sum", size = 2} : f32[50,100]
  %g = coll.wait(%rs) : f32[50,100]
  %s = aten.sum.default(%g) : f32[]
  ctc.return(%s)""",
        "%p: f32[1]",
    )
    assert report["step_ms"] == pytest.approx(4.0)
    assert report["compute_ms"] == pytest.approx(2.0)
    assert report["exposed_comm_ms"] == pytest.approx(2.0)
    assert report["lower_bound_ms"] == pytest.approx(4.0)  # the critical path mm -> rs


def test_streams_of_one_group_are_fifo_and_separate_streams_overlap() -> None:
    body = """
  %ag1 = coll.all_gather(%p) {dim = 0, group = "dp", size = 2} : f32[5000]
  %ag2 = coll.all_gather(%q) {dim = 0, group = "dp", size = 2STREAM} : f32[5000]
  %w1 = coll.wait(%ag1) : f32[5000]
  %w2 = coll.wait(%ag2) : f32[5000]
  %s = aten.sum.default(%w2) : f32[]
  ctc.return(%s)"""
    shared = _report(body.replace("STREAM", ""), "%p: f32[2500], %q: f32[2500]")
    split = _report(body.replace("STREAM", ', stream = "b"'), "%p: f32[2500], %q: f32[2500]")
    assert shared["step_ms"] == pytest.approx(2.0)
    assert split["step_ms"] == pytest.approx(1.0)


def test_peak_memory_counts_arguments_and_live_values() -> None:
    report = _report(
        """
  %c = aten.mm.default(%a, %b) : f32[100,100]
  %d = aten.mm.default(%c, %b) : f32[100,100]
  %s = aten.sum.default(%d) : f32[]
  ctc.return(%s)""",
        "%p: f32[1]",
    )
    # a, b, p resident (80 004 bytes); c and d live together while d is computed.
    assert report["peak_memory_bytes"] == 80_004 + 80_000


def test_chrome_trace_has_complete_events_on_one_thread_per_stream() -> None:
    text = (
        HEADER
        + "%p: f32[2500]) -> (f32[]) {\n"
        + (
            '  %ag = coll.all_gather(%p) {dim = 0, group = "dp", size = 2} : f32[5000]\n'
            "  %c = aten.mm.default(%a, %b) : f32[100,100]\n"
            "  %w = coll.wait(%ag) : f32[5000]\n"
            "  %s = aten.sum.default(%w) : f32[]\n"
            "  ctc.return(%s)\n }\n}\n"
        )
    )
    module = parse_module(text)
    trace = json.loads(json.dumps(chrome_trace(simulate_module(module, CostModel(PROFILE)))))
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    names = {
        e["args"]["name"]: e["tid"] for e in trace["traceEvents"] if e["name"] == "thread_name"
    }
    assert names == {"compute": 0, "dp": 1}
    assert {e["tid"] for e in spans} == {0, 1}
    mm = next(e for e in spans if "aten.mm" in e["name"])
    assert mm["dur"] == pytest.approx(2000.0)


def test_an_inplace_all_gather_shares_the_bucket_it_slices() -> None:
    """torch's bucketed all-gather (``all_gather_into_tensor_out``, lifted as ``coll.all_gather
    {inplace = true}``) writes into the bucket its input slices: no second buffer."""
    body = """
  %buf = bucketing._pre_bucket_all_gather.default([%p]) {group_size = 2} : f32[5000]
  %mine = aten.slice.Tensor(%buf) {start = 0, end = 2500} : f32[2500]
  %ag = coll.all_gather(%mine) {dim = 0, group = "dp", size = 2INPLACE} : f32[5000]
  %w = coll.wait(%ag) : f32[5000]
  %s = aten.sum.default(%w) : f32[]
  ctc.return(%s)"""
    resident = 2 * 40_000 + 10_000
    separate = _report(body.replace("INPLACE", ""), "%p: f32[2500]")
    inplace = _report(body.replace("INPLACE", ", inplace = true"), "%p: f32[2500]")
    assert separate["peak_memory_bytes"] == resident + 2 * 20_000
    assert inplace["peak_memory_bytes"] == resident + 20_000 + 4  # and the sum
    assert inplace["step_ms"] == separate["step_ms"]


def test_pre_bucket_all_gather_writes_only_its_shard() -> None:
    shard = Value("p", tensor("f32", 2500))
    bucket = Value("buf", tensor("f32", 5000))
    op = make_op("bucketing._pre_bucket_all_gather.default", [[shard]], [bucket], {"group_size": 2})
    assert op_bytes(op) == 10_000 + 10_000
    plain = make_op("aten.cat.default", [[shard]], [bucket])
    assert op_bytes(plain) == 10_000 + 20_000


def test_torch_default_mode_bucket_lives_in_its_empty_buffer() -> None:
    """torch's default-mode bucket: ``empty`` (no kernel), ``copy_`` into this rank's slice (an
    in-place op: it returns, and shares, its first operand), gather in place into the buffer."""
    body = """
  %buf = aten.empty.memory_format() {size = [5000], dtype = #dtype<f32>} : f32[5000]
  %mine = aten.slice.Tensor(%buf) {start = 0, end = 2500} : f32[2500]
  %in = aten.copy_.default(%mine, %p) : f32[2500]
  %ag = coll.all_gather(%in) {dim = 0, group = "dp", size = 2, inplace = true} : f32[5000]
  %w = coll.wait(%ag) : f32[5000]
  %s = aten.sum.default(%w) : f32[]
  ctc.return(%s)"""
    report = _report(body, "%p: f32[2500]")
    assert report["peak_memory_bytes"] == 2 * 40_000 + 10_000 + 20_000 + 4
    empty = parse_module(HEADER + "%p: f32[2500]) -> (f32[]) {\n" + body + "\n }\n}\n")
    first = empty.functions[0].ops[0]
    assert CostModel(PROFILE, empty.mesh).op_time(first) == 0.0
