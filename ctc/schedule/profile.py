"""Device profiles: the peak rates of one device and its links that the cost model reads, their
schema, the built-in profiles, and reading a profile from a JSON file.

The schema (``PROFILE_FIELDS``) is the one place that says what each field means and which
values it takes; every profile is checked against it however it was made (built in, read from a
file, written by ``ctc calibrate``, changed with ``attrs.evolve``), so the cost model never
divides by a zero bandwidth or multiplies by a string. A profile file is a JSON object of fields,
optionally with ``"base": "<built-in name>"`` whose fields the others override::

    {"base": "cpu", "name": "my-cpu", "flops_f32": 3.1e10, "intra_node_bandwidth": 2.5e9}

Besides peak rates a profile may carry what ``ctc calibrate`` measured: a table of matmul rates
by shape (``ctc.schedule.rates``), the rates attention kernels reach, the host time of a view
and of issuing a collective (on a CPU every op runs on the host), how many processes shared the
machine while it was measured, and where the numbers came from.

Pipelines name a profile through the option kind ``ctc.passes.options.ProfileOption``, which
reads it here when the pipeline is checked. Torch-free.
"""

from __future__ import annotations

import difflib
import json
import math
from pathlib import Path
from typing import Any

import attrs

from ctc.errors import CtcError
from ctc.files import read_text
from ctc.schedule.rates import MatmulRate, table_from_json, table_problem


@attrs.frozen
class FieldRule:
    """What one profile field holds: ``rate`` (a positive number), ``optional_rate`` (a positive
    number or null: not measured), ``fraction`` (in (0, 1]), ``seconds`` (a number >= 0),
    ``count`` (a whole number >= 1), ``name`` (a non-empty string) or ``matmul_table`` (a list of
    ``ctc.schedule.rates`` entries, each checked field by field); ``unit`` and ``doc`` are for
    messages and ``ctc calibrate``'s output."""

    kind: str
    unit: str
    doc: str


PROFILE_FIELDS: dict[str, FieldRule] = {
    "name": FieldRule("name", "", "what the profile is called in reports"),
    "flops_bf16": FieldRule("rate", "FLOP/s", "peak dense bf16/f16 matmul throughput"),
    "flops_f32": FieldRule("rate", "FLOP/s", "peak dense f32 matmul throughput"),
    "memory_bandwidth": FieldRule("rate", "bytes/s", "peak device memory bandwidth"),
    "intra_node_bandwidth": FieldRule("rate", "bytes/s", "collective bus bandwidth in a node"),
    "inter_node_bandwidth": FieldRule("rate", "bytes/s", "collective bus bandwidth across nodes"),
    "matmul_efficiency": FieldRule("fraction", "", "share of peak FLOP/s that kernels reach"),
    "memory_efficiency": FieldRule("fraction", "", "share of peak bandwidth that kernels reach"),
    "kernel_overhead": FieldRule("seconds", "s", "fixed cost of launching one kernel"),
    "intra_node_latency": FieldRule("seconds", "s", "base latency of a collective in a node"),
    "intra_node_hop_latency": FieldRule("seconds", "s", "latency per ring step in a node"),
    "inter_node_latency": FieldRule("seconds", "s", "base latency of a collective across nodes"),
    "inter_node_hop_latency": FieldRule("seconds", "s", "latency per ring step across nodes"),
    "gpus_per_node": FieldRule("count", "ranks", "ranks per node (the mesh laid out row-major)"),
    "memory_bytes": FieldRule("count", "bytes", "device memory"),
    "matmul_rates": FieldRule(
        "matmul_table", "", "measured matmul FLOP/s by dtype and shape (empty: peak x efficiency)"
    ),
    "attention_rate": FieldRule(
        "optional_rate", "FLOP/s", "attention forward throughput (null: peak x efficiency)"
    ),
    "attention_backward_rate": FieldRule(
        "optional_rate", "FLOP/s", "attention backward throughput (null: peak x efficiency)"
    ),
    "view_overhead": FieldRule("seconds", "s", "host time of a view op on the compute stream"),
    "collective_issue_overhead": FieldRule(
        "seconds", "s", "compute-stream time to issue one collective"
    ),
    "calibrated_processes": FieldRule(
        "count", "processes", "processes sharing the machine when it was measured"
    ),
    "source": FieldRule("name", "", "where the numbers come from"),
}

_KIND_TEXT = {
    "rate": "a positive number",
    "fraction": "a number in (0, 1]",
    "seconds": "a number >= 0",
    "count": "a whole number >= 1",
    "name": "a non-empty string",
    "optional_rate": "a positive number or null",
}


def _describe(value: object) -> str:
    if isinstance(value, str):
        return f"the string {json.dumps(value)}"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, list | dict):
        return f"a JSON {'array' if isinstance(value, list) else 'object'}"
    return repr(value)


def field_problem(name: str, value: object) -> str | None:
    """Why ``value`` cannot be profile field ``name``, or None when it can."""
    rule = PROFILE_FIELDS[name]
    if rule.kind == "matmul_table":
        return table_problem(value, name, _describe)
    if rule.kind == "optional_rate" and value is None:
        return None
    expected = _KIND_TEXT[rule.kind] + (f" ({rule.unit})" if rule.unit else "")
    problem = f"{name} must be {expected}, got {_describe(value)}"
    if rule.kind == "name":
        return None if isinstance(value, str) and value.strip() else problem
    if isinstance(value, bool) or not isinstance(value, int | float):
        return problem
    if not math.isfinite(value):
        return problem
    if rule.kind == "count":
        return None if value == int(value) and value >= 1 else problem
    if rule.kind in ("rate", "optional_rate"):
        return None if value > 0 else problem
    if rule.kind == "fraction":
        return None if 0 < value <= 1 else problem
    return None if value >= 0 else problem


def _normalise(name: str, value: Any) -> Any:
    """JSON numbers as the field's Python type: 8e9 bytes is the int 8000000000."""
    kind = PROFILE_FIELDS[name].kind
    if kind == "matmul_table":
        return table_from_json(value)
    if kind == "optional_rate":
        return None if value is None else float(value)
    if kind == "count":
        return int(value)
    if kind in ("rate", "fraction", "seconds"):
        return float(value)
    return value


@attrs.frozen
class DeviceProfile:
    """Peak rates of one device and its links. Rates in FLOP/s and bytes/s, times in seconds.

    ``*_efficiency`` scale peaks to what kernels achieve; bus bandwidths are NCCL's "busbw"
    (what ``nccl-tests`` reports), so ring time is ``bytes x (p-1)/p / busbw``. The measured
    fields (``matmul_rates`` and the ones after it) default to "not measured": peaks price every
    kernel, views and collective issue cost nothing. Every field is checked against
    ``PROFILE_FIELDS`` when a profile is made.
    """

    name: str
    flops_bf16: float
    flops_f32: float
    memory_bandwidth: float
    intra_node_bandwidth: float
    inter_node_bandwidth: float
    matmul_efficiency: float = 0.75
    memory_efficiency: float = 0.8
    kernel_overhead: float = 2e-6
    intra_node_latency: float = 10e-6
    intra_node_hop_latency: float = 0.6e-6
    inter_node_latency: float = 15e-6
    inter_node_hop_latency: float = 5e-6
    gpus_per_node: int = 8
    memory_bytes: int = 80 * 2**30
    matmul_rates: tuple[MatmulRate, ...] = ()
    attention_rate: float | None = None
    attention_backward_rate: float | None = None
    view_overhead: float = 0.0
    collective_issue_overhead: float = 0.0
    calibrated_processes: int = 1
    source: str = "built in"

    def __attrs_post_init__(self) -> None:
        problems = [
            problem
            for field in attrs.fields(DeviceProfile)
            if (problem := field_problem(field.name, getattr(self, field.name)))
        ]
        if problems:
            raise CtcError(f"device profile {self.name!r}: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str = "profile") -> DeviceProfile:
        """A profile from plain data; ``base`` names a built-in profile the rest overrides.
        Every problem is reported at once, prefixed with ``origin``."""
        data = dict(data)
        base_name = data.pop("base", None)
        unknown = sorted(set(data) - set(PROFILE_FIELDS))
        if unknown:
            raise CtcError(
                f"{origin}: unknown profile field(s) {', '.join(unknown)} "
                f"(known: base, {', '.join(PROFILE_FIELDS)})"
            )
        if base_name is not None and (not isinstance(base_name, str) or base_name not in PROFILES):
            raise CtcError(
                f"{origin}: base must name a built-in profile ({', '.join(PROFILES)}), "
                f"got {_describe(base_name)}"
            )
        problems = [p for name, value in data.items() if (p := field_problem(name, value))]
        if base_name is None:
            missing = [
                f.name
                for f in attrs.fields(cls)
                if f.default is attrs.NOTHING and f.name not in data
            ]
            if missing:
                problems.append(
                    f'missing field(s) {", ".join(missing)} (or give "base": a built-in profile)'
                )
        if problems:
            raise CtcError(f"{origin}: " + "; ".join(problems))
        values = {name: _normalise(name, value) for name, value in data.items()}
        if base_name is not None:
            return attrs.evolve(PROFILES[base_name], **values)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (``from_dict`` reads it back to an equal profile)."""
        return attrs.asdict(self)


PROFILES: dict[str, DeviceProfile] = {
    # One H100 SXM in 8-GPU NVLink nodes joined by InfiniBand NDR (about 50 GB/s per GPU).
    "h100": DeviceProfile(
        name="h100",
        flops_bf16=989e12,
        flops_f32=67e12,
        memory_bandwidth=3.35e12,
        intra_node_bandwidth=370e9,
        inter_node_bandwidth=50e9,
    ),
    # The same GPU with one GPU per node: every group of more than one rank crosses InfiniBand.
    "h100-ib": DeviceProfile(
        name="h100-ib",
        flops_bf16=989e12,
        flops_f32=67e12,
        memory_bandwidth=3.35e12,
        intra_node_bandwidth=370e9,
        inter_node_bandwidth=50e9,
        gpus_per_node=1,
    ),
    # One process per rank sharing this machine's CPU cores, gloo over loopback. Uncalibrated
    # guesses for a 2-core machine running 4 ranks; `ctc calibrate` writes measured numbers.
    "cpu": DeviceProfile(
        name="cpu",
        flops_bf16=4e9,
        flops_f32=20e9,
        memory_bandwidth=6e9,
        intra_node_bandwidth=1.5e9,
        inter_node_bandwidth=1.5e9,
        matmul_efficiency=1.0,
        memory_efficiency=1.0,
        kernel_overhead=15e-6,
        intra_node_latency=60e-6,
        intra_node_hop_latency=25e-6,
        inter_node_latency=60e-6,
        inter_node_hop_latency=25e-6,
        gpus_per_node=1 << 20,
        memory_bytes=8 * 2**30,
    ),
}


def _looks_like_path(text: str) -> bool:
    return "/" in text or text.endswith(".json") or Path(text).is_file()


def load_profile(name_or_path: str) -> DeviceProfile:
    """A built-in profile by name, or one read from a JSON file (see ``DeviceProfile.from_dict``)."""
    if name_or_path in PROFILES:
        return PROFILES[name_or_path]
    if not _looks_like_path(name_or_path):
        close = difflib.get_close_matches(name_or_path, PROFILES, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise CtcError(
            f"unknown device '{name_or_path}' ({hint}known: {', '.join(PROFILES)}, "
            "or a profile .json file)"
        )
    text, _ = read_text(name_or_path, "a device profile")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise CtcError(
            f"{name_or_path}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}"
        ) from None
    if not isinstance(data, dict):
        raise CtcError(f"{name_or_path}: a device profile is a JSON object, got {_describe(data)}")
    return DeviceProfile.from_dict(data, name_or_path)
