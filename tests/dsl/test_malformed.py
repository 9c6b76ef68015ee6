"""A corpus of malformed pipeline strings, each with the column and message the user gets.

Checked against the test registry (the real passes plus ``example`` and friends, see
tests/example_passes.py). A message ending in "..." is a prefix (the rest lists the registered
passes). Every case must raise ``SourceError``, never anything else.
"""

from __future__ import annotations

import pytest

from ctc.dsl import parse_pipeline
from ctc.errors import SourceError
from tests.example_passes import TEST_REGISTRY

# (pipeline, device or None, column of the first error, its message)
MALFORMED = [
    ("dce,", None, 5, "unexpected end of pipeline; expected a name"),
    (",dce", None, 1, "unexpected ','; expected a name"),
    ("dce,,dce", None, 5, "unexpected ','; expected a name"),
    (
        "dce(",
        None,
        5,
        "unexpected end of pipeline; expected ')', '[', a name, a number, a string (\"...\")",
    ),
    ("dce)", None, 4, "unexpected ')'; expected ','"),
    ("example(block", None, 14, "unexpected end of pipeline; expected '(', ')', ',', '='"),
    (
        "example(block,)",
        None,
        15,
        "unexpected ')'; expected '[', a name, a number, a string (\"...\")",
    ),
    (
        "example(,block)",
        None,
        9,
        "unexpected ','; expected ')', '[', a name, a number, a string (\"...\")",
    ),
    ("example(block prefetch=1)", None, 15, "unexpected 'prefetch'; expected '(', ')', ',', '='"),
    ("example(block)(x)", None, 15, "unexpected '('; expected ')', ',', ']'"),
    ("dce;inline", None, 4, "unexpected character ';'; expected '(', ')', ',', ']'"),
    ("dce inline", None, 5, "unexpected 'inline'; expected '(', ')', ',', ']'"),
    (
        "example(block, prefetch=)",
        None,
        25,
        "unexpected ')'; expected '[', a name, a number, a string (\"...\")",
    ),
    (
        "example(=block)",
        None,
        9,
        "unexpected '='; expected ')', '[', a name, a number, a string (\"...\")",
    ),
    (
        "example(block, prefetch==1)",
        None,
        25,
        "unexpected '='; expected '[', a name, a number, a string (\"...\")",
    ),
    (
        'statistics(file="abc)',
        None,
        17,
        "unexpected character '\"'; expected '[', a name, a number, a string (\"...\")",
    ),
    ("example(block, cap=[1,2)", None, 24, "unexpected ')'; expected ',', ']'"),
    ("dce#", None, 4, "unexpected character '#'; expected '(', ')', ',', ']'"),
    ("1dce", None, 1, "unexpected '1dce'; expected a name"),
    (
        "example(block, prefetch=1,,)",
        None,
        27,
        "unexpected ','; expected '[', a name, a number, a string (\"...\")",
    ),
    ("bukcet(block)", None, 1, "unknown pass 'bukcet'; did you mean 'bucket'? (passes: ..."),
    ("dcee", None, 1, "unknown pass 'dcee'; did you mean 'dce'? (passes: ..."),
    (
        "outlines(kind=block)",
        None,
        1,
        "unknown pass 'outlines'; did you mean 'outline'? (passes: ...",
    ),
    (
        "autobucketing",
        None,
        1,
        "unknown pass 'autobucketing'; did you mean 'autobucketing_reordering'? (passes: ...",
    ),
    (
        "regional_inductr",
        None,
        1,
        "unknown pass 'regional_inductr'; did you mean 'regional_inductor'? (passes: ...",
    ),
    ("frd(dce)", None, 1, "unknown pass 'frd'; did you mean 'fwd'? (passes: ..."),
    ("xyz", None, 1, "unknown pass 'xyz' (passes: ..."),
    ("dce(1)", None, 5, "pass 'dce' takes no positional arguments (it has no options)"),
    ("dce(kind=block)", None, 5, "pass 'dce' has no option 'kind' (it has no options)"),
    ("example", None, 1, "pass 'example' needs option 'mode' (one of block|auto): a choice"),
    (
        "example(blok)",
        None,
        9,
        "option 'mode' of pass 'example': expected one of block|auto, got blok",
    ),
    (
        "example(mode=blok)",
        None,
        14,
        "option 'mode' of pass 'example': expected one of block|auto, got blok",
    ),
    ("example(block, auto)", None, 16, "pass 'example' takes 1 positional argument (mode)"),
    ("example(block, mode=auto)", None, 16, "option 'mode' of pass 'example' is given twice"),
    (
        "example(block, prefech=1)",
        None,
        16,
        "pass 'example' has no option 'prefech'; did you mean 'prefetch'? (options: mode, prefetch, cap, memory_budget, tags, flag)",
    ),
    (
        "example(block, prefetch=-1)",
        None,
        25,
        "option 'prefetch' of pass 'example': -1 is out of range: expected an int >= 0",
    ),
    (
        "example(block, prefetch=1.5)",
        None,
        25,
        "option 'prefetch' of pass 'example': expected an int >= 0, got 1.5",
    ),
    (
        "example(block, prefetch=x)",
        None,
        25,
        "option 'prefetch' of pass 'example': expected an int >= 0, got x",
    ),
    (
        'example(block, prefetch="1")',
        None,
        25,
        "option 'prefetch' of pass 'example': expected an int >= 0, got \"1\"",
    ),
    (
        "example(block, cap=25)",
        None,
        20,
        "option 'cap' of pass 'example': expected a positive size such as 25MB or 24MiB or none, got 25",
    ),
    (
        "example(block, cap=25mb)",
        None,
        20,
        "unknown size unit 'mb'; did you mean 'MB'? (known: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)",
    ),
    ("example(block, cap=-25MB)", None, 20, "a size cannot be negative: -25MB"),
    (
        "example(block, cap=0MB)",
        None,
        20,
        "option 'cap' of pass 'example': expected a positive size such as 25MB or 24MiB or none, got 0MB",
    ),
    ("example(block, cap=0.1MiB)", None, 20, "0.1MiB is not a whole number of bytes"),
    (
        "example(block, cap=25XB)",
        None,
        20,
        "unknown size unit 'XB' (known: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)",
    ),
    (
        "example(block, memory_budget=1.5)",
        None,
        30,
        "option 'memory_budget' of pass 'example': expected a positive size such as 25MB or 24MiB or a float in (0.0, 1.0] or none, got 1.5",
    ),
    (
        "example(block, memory_budget=0)",
        None,
        30,
        "option 'memory_budget' of pass 'example': expected a positive size such as 25MB or 24MiB or a float in (0.0, 1.0] or none, got 0",
    ),
    (
        "example(block, memory_budget=-0.5)",
        None,
        30,
        "option 'memory_budget' of pass 'example': expected a positive size such as 25MB or 24MiB or a float in (0.0, 1.0] or none, got -0.5",
    ),
    (
        "example(prefetch=1, block)",
        None,
        21,
        "a positional argument cannot follow key=value arguments",
    ),
    (
        "example(block, prefetch=f(1))",
        None,
        25,
        "option 'prefetch' of pass 'example' takes an int >= 0, not a pass call 'f(...)'",
    ),
    (
        "outline(kind=blocks)",
        None,
        14,
        "option 'kind' of pass 'outline': expected one of block|inductor, got blocks",
    ),
    (
        "outline",
        None,
        1,
        "pass 'outline' needs option 'kind' (one of block|inductor): block: by transformer block (loc.module); inductor: by compile_with_inductor",
    ),
    (
        "inline(kind=[block])",
        None,
        13,
        "option 'kind' of pass 'inline': expected one of block|inductor|bucket|cudagraph|ep_dispatch|ep_combine|group|all, got [block]",
    ),
    ("inline(kind=block, kind=all)", None, 20, "option 'kind' of pass 'inline' is given twice"),
    (
        "statistics(json=yes)",
        None,
        17,
        "option 'json' of pass 'statistics': expected true or false, got yes",
    ),
    (
        "statistics(json=1)",
        None,
        17,
        "option 'json' of pass 'statistics': expected true or false, got 1",
    ),
    (
        "statistics(file=1)",
        None,
        17,
        "option 'file' of pass 'statistics': expected a string or none, got 1",
    ),
    (
        "statistics(json=[true])",
        None,
        17,
        "option 'json' of pass 'statistics': expected true or false, got [true]",
    ),
    ("fwd", None, 1, "'fwd' is a stage: write fwd(PASSES) to run passes on @fwd"),
    ("fwd()", None, 1, "stage fwd(...) needs at least one pass"),
    ("fwd(bwd(dce))", None, 5, "stages do not nest: bwd(...) inside fwd(...)"),
    ("fwd(kind=block)", None, 5, "a stage takes passes, not options: 'kind=' in fwd(...)"),
    ("fwd(1)", None, 5, "expected a pass inside fwd(...), got 1"),
    ('fwd("dce")', None, 5, 'expected a pass inside fwd(...), got "dce"'),
    (
        "joint(cudagraph)",
        None,
        7,
        "pass 'cudagraph' does not work on stage joint (it works on: fwd, bwd)",
    ),
    (
        "joint(inductor(regions))",
        None,
        7,
        "pass 'inductor' does not work on stage joint (it works on: fwd, bwd)",
    ),
    (
        "joint(regional_inductor)",
        None,
        7,
        "pass 'inductor' does not work on stage joint (it works on: fwd, bwd) (in the expansion of alias 'regional_inductor': inductor(regions))",
    ),
    ("fwd(bogus)", None, 5, "unknown pass 'bogus' (passes: ..."),
    (
        "regional_inductor(all)",
        None,
        1,
        "alias 'regional_inductor' takes no arguments; it stands for inductor(regions): write that instead to choose options",
    ),
    (
        "transformer_block_bucketing(prefetch=2)",
        None,
        1,
        "alias 'transformer_block_bucketing' takes no arguments; it stands for reshard_after_forward,bucket(block, prefetch=1): write that instead to choose options",
    ),
    ("cudagraph(x=1)", None, 11, "pass 'cudagraph' has no option 'x' (it has no options)"),
    (
        "cudagraph,dce",
        None,
        11,
        "'dce' comes after 'cudagraph' (column 1), which must be the last pass",
    ),
    (
        "cudagraph,cudagraph",
        None,
        11,
        "'cudagraph' comes after 'cudagraph' (column 1), which must be the last pass",
    ),
    (
        "fwd(cudagraph),fwd(dce)",
        None,
        20,
        "'fwd(dce)' comes after 'fwd(cudagraph)' (column 5), which must be the last pass on stage fwd",
    ),
    (
        "bucket(auto),bucket(block)",
        None,
        14,
        "'bucket(block)' conflicts with 'bucket(auto)' (column 1): pass 'bucket' may run only once per stage",
    ),
    (
        "autobucketing_reordering,transformer_block_bucketing",
        None,
        26,
        "'bucket(block)' conflicts with 'bucket(auto)' (column 1): pass 'bucket' may run only once per stage (in the expansion of alias 'transformer_block_bucketing': reshard_after_forward,bucket(block, prefetch=1))",
    ),
    (
        "bucket(block),fwd(bucket(auto))",
        None,
        19,
        "'fwd(bucket(auto))' conflicts with 'bucket(block)' (column 1) on stage fwd: pass 'bucket' may run only once per stage",
    ),
    (
        "joint(bucket(auto)),bucket(block)",
        None,
        21,
        "'bucket(block)' conflicts with 'joint(bucket(auto))' (column 7) on stage joint: pass 'bucket' may run only once per stage",
    ),
    (
        "transformer_block_bucketing,regional_inductor,cudagraph,dce",
        None,
        57,
        "'dce' comes after 'cudagraph' (column 47), which must be the last pass",
    ),
    (
        "example(block, cap=[1MB])",
        None,
        20,
        "option 'cap' of pass 'example': expected a positive size such as 25MB or 24MiB or none, got [1MB]",
    ),
    (
        "inductor",
        None,
        1,
        "pass 'inductor' needs option 'scope' (one of regions|all): regions: annotated regions and FlexAttention; all: the whole graph",
    ),
    (
        "inductor(everything)",
        None,
        10,
        "option 'scope' of pass 'inductor': expected one of regions|all, got everything",
    ),
    (
        "reorder(memory_budget=2GB, memory_budget=1GB)",
        None,
        28,
        "option 'memory_budget' of pass 'reorder' is given twice",
    ),
    ("dce(1, 2)", None, 5, "pass 'dce' takes no positional arguments (it has no options)"),
    (
        "cudagraph",
        "cpu",
        1,
        "pass 'cudagraph' needs a cuda target, but the pipeline is bound to cpu; bind a cuda target (--device cuda, on a machine with a GPU) or leave it out",
    ),
    (
        "transformer_block_bucketing,regional_inductor,cudagraph",
        "cpu",
        47,
        "pass 'cudagraph' needs a cuda target, but the pipeline is bound to cpu; bind a cuda target (--device cuda, on a machine with a GPU) or leave it out",
    ),
    (
        "fwd(cudagraph)",
        "cpu",
        5,
        "pass 'cudagraph' needs a cuda target, but the pipeline is bound to cpu; bind a cuda target (--device cuda, on a machine with a GPU) or leave it out",
    ),
    (
        "example(auto, tags=[a, 1])",
        None,
        24,
        "option 'tags' of pass 'example': expected a string, got 1",
    ),
    (
        "example(auto, tags=x)",
        None,
        20,
        "option 'tags' of pass 'example': expected a list, each item a string, got x",
    ),
    (
        "example(auto, tags=[[a]])",
        None,
        21,
        "option 'tags' of pass 'example': expected a string, got [a]",
    ),
    (
        "example(auto, flag=true, flag=false)",
        None,
        26,
        "option 'flag' of pass 'example' is given twice",
    ),
]


def test_the_corpus_is_large_enough() -> None:
    assert len(MALFORMED) >= 50
    assert len({case[0:2] for case in MALFORMED}) == len(MALFORMED)


@pytest.mark.parametrize(("text", "device", "column", "message"), MALFORMED)
def test_malformed_pipeline(text: str, device: str | None, column: int, message: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_pipeline(text, registry=TEST_REGISTRY, device=device)
    first = caught.value.diagnostics[0]
    assert first.line == 1
    assert first.column == column
    if message.endswith("..."):
        assert first.message.startswith(message[:-3])
    else:
        assert first.message == message
    rendered = str(caught.value).splitlines()
    assert rendered[0] == f"<pipeline>:1:{column}: error: {first.message}"
    assert rendered[1] == "  " + text
    assert rendered[2] == "  " + " " * (column - 1) + "^"
