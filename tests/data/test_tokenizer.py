"""The BPE tokenizer: deterministic, within the asked vocabulary, cached, loadable by
torchtitan's HuggingFaceTokenizer, and round-tripping text."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ctc.data.tokenizer import (
    BOS_TOKEN,
    EOS_TOKEN,
    MIN_VOCAB_SIZE,
    build_tokenizer,
    check_tokenizer_folder,
    tokenizer_vocab_size,
    train_tokenizer,
)
from ctc.data.torchtitan_dataset import load_tokenizer
from ctc.errors import CtcError
from tests.data.conftest import SMALL_VOCAB_SIZE, exactly

SAMPLES = [
    "Return the parsed message.\n\n    Indented, with  two spaces\tand a tab.",
    "Caf\u00e9 \u2713 \u4e2d\u6587 \U0001f600 -- bytes the corpus never saw\r\n",
    "",
]


def test_the_folder_has_what_torchtitan_loads(small_tokenizer: Path) -> None:
    assert sorted(p.name for p in small_tokenizer.iterdir()) == [
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    config = json.loads((small_tokenizer / "tokenizer_config.json").read_text())
    assert (config["bos_token"], config["eos_token"]) == (BOS_TOKEN, EOS_TOKEN)
    assert tokenizer_vocab_size(small_tokenizer) == SMALL_VOCAB_SIZE


def test_torchtitan_loads_it_and_text_round_trips(small_tokenizer: Path) -> None:
    tokenizer = load_tokenizer(small_tokenizer)
    assert (tokenizer.bos_id, tokenizer.eos_id) == (0, 1)
    assert tokenizer.get_vocab_size() == SMALL_VOCAB_SIZE
    for text in SAMPLES:
        ids = tokenizer.encode(text, add_bos=True, add_eos=True)
        assert ids[0] == 0 and ids[-1] == 1
        assert all(0 <= i < SMALL_VOCAB_SIZE for i in ids)
        assert tokenizer.decode(ids) == text
    # Trained merges: English prose takes fewer tokens than bytes.
    assert len(tokenizer.encode(SAMPLES[0])) < len(SAMPLES[0].encode()) / 2


def test_the_same_corpus_and_size_give_identical_files(small_corpus: Path, tmp_path: Path) -> None:
    code = (
        "import sys\nfrom pathlib import Path\nfrom ctc.data.tokenizer import train_tokenizer\n"
        f"train_tokenizer(Path(sys.argv[1]), {SMALL_VOCAB_SIZE}, Path(sys.argv[2]))\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(small_corpus), str(tmp_path / "other")],
        check=True,
        timeout=300,
    )
    train_tokenizer(small_corpus, SMALL_VOCAB_SIZE, tmp_path / "here")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "other" / name).read_bytes()


def test_a_cached_tokenizer_is_not_rebuilt(small_corpus: Path, small_tokenizer: Path) -> None:
    folder, built = build_tokenizer(small_corpus, SMALL_VOCAB_SIZE, small_tokenizer.parent)
    assert (folder, built) == (small_tokenizer, False)


def test_another_size_is_another_folder(small_corpus: Path, small_tokenizer: Path) -> None:
    folder, built = build_tokenizer(small_corpus, MIN_VOCAB_SIZE, small_tokenizer.parent)
    assert built and folder != small_tokenizer
    assert tokenizer_vocab_size(folder) == MIN_VOCAB_SIZE


@pytest.mark.parametrize("size", [MIN_VOCAB_SIZE - 1, 0, True, "2048"])
def test_a_vocabulary_too_small_or_not_a_number_is_refused(
    small_corpus: Path, tmp_path: Path, size: object
) -> None:
    with pytest.raises(CtcError, match="vocabulary size"):
        build_tokenizer(small_corpus, size, tmp_path)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_a_missing_tokenizer_folder_or_file_names_the_path(
    small_tokenizer: Path, tmp_path: Path
) -> None:
    with pytest.raises(CtcError, match=exactly(f"tokenizer folder not found: {tmp_path / 'none'}")):
        check_tokenizer_folder(tmp_path / "none")
    (tmp_path / "tokenizer.json").write_bytes((small_tokenizer / "tokenizer.json").read_bytes())
    missing = tmp_path / "tokenizer_config.json"
    with pytest.raises(CtcError, match=exactly(f"tokenizer file not found: {missing}")):
        load_tokenizer(tmp_path)


def test_building_the_assets_loads_no_torch(small_corpus: Path, tmp_path: Path) -> None:
    code = (
        "import sys\nfrom ctc.data import build_tokenizer\n"
        "build_tokenizer(sys.argv[1], 300, sys.argv[2])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchtitan'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(small_corpus), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
