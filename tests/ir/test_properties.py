"""Round-trip properties over generated modules."""

from __future__ import annotations

from hypothesis import given, settings

from ctc.ir import Module, parse_module, print_module, verify
from tests.ir.strategies import modules


@settings(max_examples=150, deadline=None)
@given(modules())
def test_generated_modules_verify_and_round_trip(module: Module) -> None:
    assert verify(module) == []
    text = print_module(module)
    parsed = parse_module(text)
    assert parsed == module
    assert print_module(parsed) == text
