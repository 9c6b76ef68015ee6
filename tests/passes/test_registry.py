"""The pass table: names, lazy imports, declared specs and the classes that implement them."""

from __future__ import annotations

import importlib
import subprocess
import sys

import attrs
import pytest

from ctc.dsl import ALIASES
from ctc.errors import CtcError
from ctc.passes.base import STAGES
from ctc.passes.registry import (
    DECLARED,
    PASSES,
    REGISTRY,
    PassSpec,
    _module_origin,
    spec_of,
)
from tests.stub_passes import STUB_REGISTRY

GENERIC = ["dce", "outline", "inline", "statistics"]


def test_names_are_distinct_from_stages() -> None:
    assert not set(PASSES) & set(STAGES)


@pytest.mark.parametrize("name", GENERIC)
def test_generic_passes_are_implemented_and_torch_free(name: str) -> None:
    spec = REGISTRY.spec(name)
    cls = REGISTRY.load(name)
    assert cls is not None and cls.name == name
    assert spec.implemented and not spec.needs_torch
    assert spec.doc and spec.doc.endswith(".")
    assert cls.__doc__ and "Guarantees" in cls.__doc__


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_declared_specs_match_their_classes_once_landed(name: str) -> None:
    """Before a declared pass lands it is refused; once it lands, its class must declare the
    same options (names, kinds, defaults, positions) and the same stages and rules."""
    module_name, _, class_name = PASSES[name].partition(":")
    declared = DECLARED[name]
    if _module_origin(module_name) is None:
        assert not REGISTRY.spec(name).implemented
        with pytest.raises(CtcError, match="not implemented yet"):
            REGISTRY.create(name, {})
        return
    cls = getattr(importlib.import_module(module_name), class_name, None)
    if cls is None:
        assert not REGISTRY.spec(name).implemented
        return

    def comparable(spec: PassSpec) -> PassSpec:
        options = tuple(attrs.evolve(o, doc="") for o in spec.options)
        return attrs.evolve(spec, doc="", options=options, implemented=True)

    assert comparable(spec_of(cls)) == comparable(declared)


def test_a_registered_class_that_does_not_exist_is_not_implemented() -> None:
    assert not STUB_REGISTRY.spec("missing").implemented
    assert not STUB_REGISTRY.spec("unfinished").implemented
    with pytest.raises(CtcError, match="pass 'unfinished' is not implemented yet"):
        STUB_REGISTRY.create("unfinished", {})


def test_aliases_expand_to_registered_passes() -> None:
    from ctc.dsl import parse_pipeline

    for expansion in ALIASES.values():
        for entry in parse_pipeline(expansion, check=False).entries:
            assert entry.name in PASSES


def test_checking_a_torch_pipeline_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "from ctc.cli.main import main\n"
        "main(['pipeline', 'transformer_block_bucketing,regional_inductor,cudagraph'])\n"
        "main(['pipeline', '--list'])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchtitan'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
