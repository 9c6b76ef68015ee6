"""Device profiles: one schema checks every field however a profile is made; files are read
with messages that name the file, the field and the rule."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from ctc.dsl import parse_pipeline
from ctc.errors import CtcError
from ctc.schedule.profile import PROFILE_FIELDS, PROFILES, DeviceProfile, load_profile


def _write(path: Path, data: object) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def test_the_schema_covers_every_field() -> None:
    assert list(PROFILE_FIELDS) == [field.name for field in attrs.fields(DeviceProfile)]


def test_a_file_overrides_its_base_and_round_trips(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "calibrated.json", {"base": "cpu", "name": "this-cpu", "flops_f32": 35e9}
    )
    profile = load_profile(path)
    assert profile.flops_f32 == 3.5e10 and profile.name == "this-cpu"
    assert profile.memory_bandwidth == PROFILES["cpu"].memory_bandwidth
    assert DeviceProfile.from_dict(profile.to_dict()) == profile
    # JSON numbers become the field's type: a whole-number float for a count is an int.
    counted = load_profile(_write(tmp_path / "c.json", {"base": "h100", "memory_bytes": 8e9}))
    assert counted.memory_bytes == 8_000_000_000 and isinstance(counted.memory_bytes, int)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"base": "cpu", "flops_f32": "fast"},
            'flops_f32 must be a positive number (FLOP/s), got the string "fast"',
        ),
        (
            {"base": "cpu", "intra_node_bandwidth": 0},
            "intra_node_bandwidth must be a positive number (bytes/s), got 0",
        ),
        ({"base": "cpu", "memory_bandwidth": -1e9}, "memory_bandwidth must be a positive number"),
        (
            {"base": "cpu", "matmul_efficiency": 1.5},
            "matmul_efficiency must be a number in (0, 1], got 1.5",
        ),
        (
            {"base": "cpu", "kernel_overhead": -1},
            "kernel_overhead must be a number >= 0 (s), got -1",
        ),
        (
            {"base": "cpu", "gpus_per_node": 2.5},
            "gpus_per_node must be a whole number >= 1 (ranks), got 2.5",
        ),
        (
            {"base": "cpu", "gpus_per_node": True},
            "gpus_per_node must be a whole number >= 1 (ranks), got true",
        ),
        (
            {"base": "cpu", "flops_bf16": None},
            "flops_bf16 must be a positive number (FLOP/s), got null",
        ),
        ({"base": "cpu", "name": ""}, 'name must be a non-empty string, got the string ""'),
        ({"base": "cpu", "flops": 1}, "unknown profile field(s) flops (known: base, name,"),
        (
            {"base": "tpu"},
            'base must name a built-in profile (h100, h100-ib, cpu), got the string "tpu"',
        ),
        ({"name": "x", "flops_f32": 1e9}, "missing field(s) flops_bf16, memory_bandwidth"),
    ],
)
def test_bad_fields_are_named_with_their_rule(
    tmp_path: Path, data: dict[str, object], message: str
) -> None:
    path = _write(tmp_path / "p.json", data)
    with pytest.raises(CtcError) as caught:
        load_profile(path)
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)


def test_every_bad_field_is_reported_at_once(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.json", {"base": "cpu", "flops_f32": "fast", "flops_bf16": 0})
    with pytest.raises(CtcError, match=r"flops_f32 must be .*; flops_bf16 must be"):
        load_profile(path)


def test_non_finite_numbers_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"base": "cpu", "flops_f32": NaN, "memory_bandwidth": 1e999}')
    with pytest.raises(CtcError, match=r"flops_f32 must be a positive number .* got nan"):
        load_profile(str(path))


def test_files_that_cannot_be_read_say_so(tmp_path: Path) -> None:
    with pytest.raises(CtcError, match=f"no such file: {tmp_path}/missing.json"):
        load_profile(str(tmp_path / "missing.json"))
    with pytest.raises(CtcError, match="is a directory, not a device profile"):
        load_profile(str(tmp_path) + "/")
    (tmp_path / "bad.json").write_text('{"base": "cpu",\n  "flops_f32": }')
    with pytest.raises(CtcError, match=r"bad.json:2:16: not valid JSON: Expecting value"):
        load_profile(str(tmp_path / "bad.json"))
    array = _write(tmp_path / "list.json", [1, 2])
    with pytest.raises(CtcError, match="a device profile is a JSON object, got a JSON array"):
        load_profile(array)
    with pytest.raises(CtcError, match=r"unknown device 'h10' \(did you mean 'h100'\?"):
        load_profile("h10")


def test_profiles_made_in_python_are_checked_too() -> None:
    with pytest.raises(CtcError, match="gpus_per_node must be a whole number >= 1"):
        attrs.evolve(PROFILES["h100"], gpus_per_node=0)


def test_a_pipeline_naming_a_bad_profile_is_refused_when_checked(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.json", {"base": "cpu", "flops_f32": 3e10})
    pipeline = parse_pipeline(f'bucket(auto, device="{good}")')
    assert pipeline.format() == f'bucket(auto, device="{good}")'
    with pytest.raises(
        CtcError,
        match=r"<pipeline>:1:21: error: option 'device' of pass 'bucket': unknown device 'tpu'",
    ):
        parse_pipeline("bucket(auto, device=tpu)")
    bad = _write(tmp_path / "bad.json", {"base": "cpu", "flops_f32": 0})
    with pytest.raises(CtcError, match="flops_f32 must be a positive number"):
        parse_pipeline(f'bucket(auto, device="{bad}")')
    with pytest.raises(CtcError, match="no such file"):
        parse_pipeline(f'bucket(auto, device="{tmp_path}/none.json")')


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"base": "cpu", "matmul_rates": 3}, "matmul_rates must be a list of matmul rate entries"),
        (
            {"base": "cpu", "matmul_rates": [{"dtype": "bf16", "m": 64, "k": 8, "n": 8}]},
            "matmul_rates[0]: missing rate",
        ),
        (
            {
                "base": "cpu",
                "matmul_rates": [{"dtype": "bf16", "m": 64, "k": 8, "n": 8, "rate": 1e9, "x": 1}],
            },
            "matmul_rates[0]: unknown field 'x'",
        ),
        (
            {
                "base": "cpu",
                "matmul_rates": [
                    {"dtype": "bf16", "m": 64, "k": 8, "n": 8, "rate": 1e9},
                    {"dtype": "f33", "m": 0.5, "k": 8, "n": 8, "rate": -1, "layout": "xx"},
                ],
            },
            "matmul_rates[1].dtype must be one of",
        ),
        ({"base": "cpu", "attention_rate": 0}, "attention_rate must be a positive number or null"),
        ({"base": "cpu", "view_overhead": -1e-6}, "view_overhead must be a number >= 0"),
        ({"base": "cpu", "calibrated_processes": 0}, "calibrated_processes must be a whole number"),
    ],
)
def test_measured_fields_are_checked_entry_by_entry(
    tmp_path: Path, data: dict[str, object], message: str
) -> None:
    with pytest.raises(CtcError) as caught:
        load_profile(_write(tmp_path / "p.json", data))
    assert message in str(caught.value)


def test_a_measured_profile_round_trips(tmp_path: Path) -> None:
    entry = {"dtype": "bf16", "m": 64, "k": 256, "n": 384, "rate": 8e10, "layout": "nt"}
    path = _write(
        tmp_path / "m.json",
        {"base": "cpu", "matmul_rates": [entry], "attention_rate": None, "view_overhead": 4e-6},
    )
    profile = load_profile(path)
    assert profile.matmul_rates[0].rate == 8e10 and profile.matmul_rates[0].batch == 1
    assert profile.attention_rate is None and profile.view_overhead == 4e-6
    again = _write(tmp_path / "again.json", profile.to_dict())
    assert load_profile(again) == profile
