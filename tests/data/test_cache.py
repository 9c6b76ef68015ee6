"""Publishing into the cache: built once by concurrent builders, complete or absent."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ctc.data.cache import cache_folder, publish
from ctc.errors import CtcError

# Each builder process records that it built, takes a while (so the others arrive while the
# first holds the lock), and writes the artifact in two steps (a reader must never see one).
BUILDER = """
import sys, time
from pathlib import Path
from ctc.data.cache import publish

final, log = Path(sys.argv[1]), Path(sys.argv[2])

def build(temporary):
    with log.open("a") as stream:
        stream.write("built\\n")
    temporary.mkdir()
    (temporary / "part1").write_text("one")
    time.sleep(1.0)
    (temporary / "part2").write_text("two")

built = publish(final, build)
assert sorted(p.name for p in final.iterdir()) == ["part1", "part2"]
print(built)
"""


def test_eight_concurrent_builders_build_once(tmp_path: Path) -> None:
    final, log = tmp_path / "artifact", tmp_path / "log"
    command = [sys.executable, "-c", BUILDER, str(final), str(log)]
    builders = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(8)]
    answers = [builder.communicate(timeout=120)[0].strip() for builder in builders]
    assert [builder.returncode for builder in builders] == [0] * 8
    assert sorted(answers) == ["False"] * 7 + ["True"]
    assert log.read_text() == "built\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifact", "artifact.lock", "log"]


def test_a_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    final = tmp_path / "artifact.txt"

    def build(temporary: Path) -> None:
        temporary.write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        publish(final, build)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifact.txt.lock"]
    assert publish(final, lambda temporary: temporary.write_text("whole"))
    assert final.read_text() == "whole"


def test_an_existing_artifact_is_not_rebuilt(tmp_path: Path) -> None:
    final = tmp_path / "artifact.txt"
    final.write_text("cached")
    assert not publish(final, lambda temporary: temporary.write_text("new"))
    assert final.read_text() == "cached"


def test_the_cache_folder_is_created_and_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    assert cache_folder(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir()
    (tmp_path / "file").write_text("")
    expected = f"cannot create directory {tmp_path / 'file'}: a file of that name exists"
    with pytest.raises(CtcError, match=re.escape(expected)):
        cache_folder(tmp_path / "file")


def test_the_default_cache_folder_is_under_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_folder(None) == tmp_path / ".cache" / "ctc"
