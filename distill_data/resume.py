"""Resumable runs: a work folder beside the output with finished spill parts and a checkpoint after each.

A build streams its processed rows into spill parts (Arrow IPC files). Each time a part is finished, the
checkpoint records how many input batches it covers, the source's counters, how long ``rejects.jsonl`` was and
the state of the order-dependent steps (dedup's digests) with the statistics so far. It is written to a temporary
file and renamed, so a run killed at any moment leaves the last complete checkpoint. ``--resume`` checks that the
inputs (checksums) and the options that shape the output are unchanged, drops what came after the checkpoint,
skips the input batches already processed and goes on; the result is byte-identical to an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .dataset_folder import REJECTS, DatasetFolder
from .errors import OutputError
from .output_folder import is_dataset_output

MANIFEST = "manifest.json"
CHECKPOINT = "checkpoint.json"
STATE = "state.pickle"
SPILL = "spill"
FORMAT = 1


def work_folder(output: Path) -> Path:
    """Where a run building ``output`` keeps its work: a hidden folder beside it, named after it."""
    output = output.resolve()
    return output.parent / f".{output.name}.partial"


@dataclass(frozen=True)
class Checkpoint:
    """Where a run stood after its last finished spill part."""

    parts: int  # finished spill parts
    batches: int  # input batches they cover
    rows_read: int
    rejected: int
    rejects_bytes: int  # the length of rejects.jsonl at that point


def spill_part(folder: Path, number: int) -> Path:
    return folder / SPILL / f"part-{number:05d}.arrow"


def start(folder: Path, manifest: dict[str, Any]) -> None:
    """A fresh work folder for a new run (an unfinished one of the same output is discarded, nothing else)."""
    if folder.exists():
        if any(folder.iterdir()) and not ((folder / MANIFEST).is_file() or is_dataset_output(folder)):
            raise OutputError(
                f"{folder}: exists and is not the work folder of an unfinished distill-data run; move it away"
            )
        shutil.rmtree(folder)
    (folder / SPILL).mkdir(parents=True)
    _write_json(folder / MANIFEST, {"format": FORMAT, **manifest})


def record_inputs(folder: Path, inputs: list[dict[str, Any]]) -> None:
    """Add the inputs' checksums to the manifest of a new run (once; they are computed while it starts)."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    if "inputs" not in manifest:
        _write_json(folder / MANIFEST, {**manifest, "inputs": inputs})


def resume(folder: Path, manifest: dict[str, Any]) -> tuple[Checkpoint, Any] | None:
    """The last checkpoint of the unfinished run in ``folder`` and its saved state (None: no part finished yet).

    Refuses, naming the difference, when the inputs or options differ from that run's; removes what the run
    wrote after its checkpoint.
    """
    if not (folder / MANIFEST).is_file():
        raise OutputError(f"nothing to resume: no unfinished run of this output at {folder} (run without --resume)")
    try:
        recorded = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OutputError(f"{folder / MANIFEST}: unreadable ({exc}); run without --resume") from None
    if "inputs" not in recorded and not (folder / CHECKPOINT).exists():  # stopped before its first checkpoint
        start(folder, manifest)
        return None
    difference = _difference(recorded, {"format": FORMAT, **manifest})
    if difference:
        raise OutputError(f"cannot resume the unfinished run at {folder}: {difference}; run without --resume")
    checkpoint = None
    state = None
    if (folder / CHECKPOINT).is_file():
        checkpoint = Checkpoint(**json.loads((folder / CHECKPOINT).read_text(encoding="utf-8")))
        with (folder / STATE).open("rb") as handle:
            state = pickle.load(handle)
    parts = checkpoint.parts if checkpoint else 0
    for path in (folder / SPILL).iterdir():
        if not (path.name.startswith("part-") and path.suffix == ".arrow" and int(path.stem[5:]) < parts):
            path.unlink()
    for path in folder.iterdir():  # what a run writes after its spill (data/, the card) is written again
        if path.name not in (MANIFEST, CHECKPOINT, STATE, SPILL, REJECTS):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    rejects = DatasetFolder(folder).rejects
    if rejects.exists():
        with rejects.open("r+b") as handle:
            handle.truncate(checkpoint.rejects_bytes if checkpoint else 0)
    return None if checkpoint is None else (checkpoint, state)


def clear(folder: Path) -> None:
    """Remove the spill and checkpoint once the splits are written (the manifest stays: see :func:`finish`)."""
    shutil.rmtree(folder / SPILL, ignore_errors=True)
    for name in (CHECKPOINT, STATE):
        (folder / name).unlink(missing_ok=True)


def finish(folder: Path) -> None:
    """Remove the manifest, last, just before the folder becomes the output: until then it marks the folder as
    a run's work folder, which a later run may discard."""
    (folder / MANIFEST).unlink(missing_ok=True)


def save(folder: Path, checkpoint: Checkpoint, state: Any) -> None:
    """Record a checkpoint: the state first, then the checkpoint that names it (the commit point)."""
    temporary = folder / (STATE + ".tmp")
    with temporary.open("wb") as handle:  # streamed: no second copy of a large state in memory
        pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, folder / STATE)
    _atomic_write(folder / CHECKPOINT, json.dumps(asdict(checkpoint), indent=2).encode("utf-8"))


def _difference(recorded: dict[str, Any], current: dict[str, Any]) -> str | None:
    """The first way the current run differs from the recorded one, in words."""
    if recorded.get("format") != current["format"]:
        return "it was written by another version of distill-data"
    if recorded.get("recipe") != current["recipe"]:
        return "the recipe (steps, parameters, splits or seed) changed"
    old_inputs = {entry.get("path") or entry.get("id"): entry for entry in recorded.get("inputs", [])}
    new_inputs = {entry.get("path") or entry.get("id"): entry for entry in current["inputs"]}
    if old_inputs.keys() != new_inputs.keys():
        return f"the inputs changed (were {', '.join(map(str, old_inputs))})"
    for name, entry in new_inputs.items():
        if entry != old_inputs[name]:
            return f"input {name} changed since the run started (its checksum or revision differs)"
    for option, value in current["options"].items():
        was = recorded.get("options", {}).get(option)
        if was != value:
            return f"option {option} changed ({was} then, {value} now)"
    return None


def _write_json(path: Path, value: Any) -> None:
    _atomic_write(path, json.dumps(value, indent=2, sort_keys=True).encode("utf-8"))


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
