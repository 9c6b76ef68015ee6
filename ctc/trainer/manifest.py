"""A checkpoint folder says what it holds, so ``ctc train`` refuses another model's before any
process starts (torch-free).

``ctc train --checkpoint DIR`` writes ``DIR/ctc-run.json`` (model, flavor, mesh, batch,
sequence length) when it starts; a later run with the same folder must name the same model,
flavor and mesh. A folder holding torchtitan checkpoints without that file was not written by
``ctc train`` and is refused too (resume it with the launcher that wrote it).
"""

from __future__ import annotations

import json
from pathlib import Path

from ctc.errors import CtcError
from ctc.files import write_output
from ctc.trainer.args import TrainSettings

MANIFEST = "ctc-run.json"
# What must match for a checkpoint to load into the model being trained.
KEYS = ("model", "flavor", "mesh")


def _described(settings: TrainSettings) -> dict[str, object]:
    return {
        "model": settings.model,
        "flavor": settings.flavor,
        "mesh": settings.mesh,
        "batch": settings.batch,
        "seq_len": settings.seq_len,
    }


def check_checkpoint_folder(settings: TrainSettings) -> None:
    """Raises a ``CtcError`` when ``--checkpoint`` names a folder that holds another run."""
    if not settings.checkpoint:
        return
    folder = Path(settings.checkpoint)
    if folder.exists() and not folder.is_dir():
        raise CtcError(f"--checkpoint {folder}: it is a file, not a folder")
    manifest = folder / MANIFEST
    if not manifest.exists():
        steps = sorted(folder.glob("step-*")) if folder.is_dir() else []
        if steps:
            raise CtcError(
                f"--checkpoint {folder} holds checkpoints ({steps[-1].name}) but no {MANIFEST}: "
                "ctc train did not write them; pick another folder"
            )
        return
    try:
        saved = json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CtcError(f"cannot read {manifest}: {error}") from None
    wanted = _described(settings)
    for key in KEYS:
        if saved.get(key) != wanted[key]:
            raise CtcError(
                f"--checkpoint {folder} holds a run of {saved.get('model')} "
                f"{saved.get('flavor')} on {saved.get('mesh')}, not {settings.model} "
                f"{settings.flavor} on {settings.mesh} ({key} differs); pick another folder"
            )


def write_manifest(settings: TrainSettings) -> None:
    """Writes the manifest of the run into its checkpoint folder."""
    if not settings.checkpoint:
        return
    folder = Path(settings.checkpoint)
    folder.mkdir(parents=True, exist_ok=True)
    write_output(str(folder / MANIFEST), json.dumps(_described(settings), indent=1) + "\n")
