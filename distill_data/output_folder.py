"""The output folder of a run: what a run may replace, one writer at a time, and the atomic commit.

A run writes a hidden staging folder beside ``--output`` and renames it into place at the end (the only commit
point). Replacing an existing folder deletes it, so the rules here decide what may be replaced: an empty folder,
or an earlier output of distill-data that holds nothing distill-data did not write. ``/``, the home folder, the
current folder and the folders above them, a mount point and a folder that holds an input are never replaced.
A lock file beside the output keeps a second run off the same output while the first is writing it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import json
import os
import shutil
import sys
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from .dataset_folder import ENTRIES, PROVENANCE, DatasetFolder
from .errors import OutputError
from .sources.files import is_url

FORCE_FLAG = "--force-overwrite"
# What a training run leaves in its output_dir (transformers' Trainer, our metrics): an earlier training output.
TRAINING_MARKERS = ("training_args.bin", "trainer_state.json", "metrics.jsonl")
FORCE_OVERWRITE_HELP = (
    "DANGER: replace OUTPUT even when it is not an earlier output of distill-data, deleting everything in it "
    "(never the root, home or current folder, a folder above them, or a folder holding an input)."
)


def check_output(output: Path, *, overwrite: bool, force: bool = False, inputs: Iterable[str | Path] = ()) -> Path:
    """Refuse an output this run must not replace, before any work is done; the output's resolved path.

    ``inputs`` are the run's input specs (paths, globs, Hub ids): a folder that holds one is never replaced.
    ``force`` lets a non-empty folder that is not an earlier distill-data output be replaced (and deleted).
    """
    output = Path(output).expanduser()
    resolved = _never_replaced(output, inputs)
    if resolved.is_dir() and _is_mount_point(resolved):
        raise OutputError(
            f"{output}: is a mount point (a volume?), which a run cannot replace as a whole; "
            f"write to a folder inside it, such as {output / 'dataset'}"
        )
    if resolved.is_dir() and any(resolved.iterdir()):
        if not (overwrite or force):
            raise OutputError(f"{output}: folder exists and is not empty (use --overwrite to replace it)")
        if not force:
            _refuse_foreign(output, resolved)
    parent = resolved.parent
    existing = next(folder for folder in (parent, *parent.parents) if folder.exists())
    if not existing.is_dir():
        raise OutputError(f"{existing}: {os.strerror(errno.ENOTDIR)}, so it cannot hold the output {output}")
    parent.mkdir(parents=True, exist_ok=True)
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{parent}: folder is not writable")
    return resolved


def check_model_output(output: Path, *, force: bool = False, inputs: Iterable[str | Path] = ()) -> None:
    """Refuse a training ``output_dir`` that saving a model into would harm: a protected folder or one holding an
    input (see :func:`check_output`), or a non-empty folder that is not an earlier training output, whose files
    (a README.md, a config.json) the saved model would overwrite, unless ``force``."""
    output = Path(output).expanduser()
    resolved = _never_replaced(output, inputs)
    if force or not resolved.is_dir() or not any(resolved.iterdir()):
        return
    if not any((resolved / name).exists() for name in TRAINING_MARKERS) and not any(resolved.glob("checkpoint-*")):
        raise OutputError(
            f"{output}: is not empty and holds no earlier training output, whose files the model would overwrite; "
            f"choose an empty or new output_dir, or add {FORCE_FLAG}"
        )


def _never_replaced(output: Path, inputs: Iterable[str | Path]) -> Path:
    """Refuse what no flag allows: a file, a protected folder, a folder holding an input. The resolved path."""
    try:
        resolved = output.resolve()
    except (OSError, RuntimeError):  # Python before 3.13 raises RuntimeError for a loop
        raise OutputError(f"{output}: symlink loop (a symbolic link that leads back to itself)") from None
    if output.exists() and not output.is_dir():
        raise OutputError(f"{output}: exists and is not a folder")
    _refuse_protected(output, resolved)
    _refuse_input_inside(output, resolved, inputs)
    return resolved


def _refuse_protected(output: Path, resolved: Path) -> None:
    """``/``, the home folder, the current folder and every folder above one of them."""
    protected = {Path(resolved.anchor)}
    for place in (Path.cwd().resolve(), Path.home().resolve()):
        protected.update((place, *place.parents))
    if resolved in protected:
        raise OutputError(
            f"{output}: refusing to write the output over {resolved} (the root, home or current folder, or a "
            "folder above one of them); choose a new output folder"
        )


def _refuse_input_inside(output: Path, resolved: Path, inputs: Iterable[str | Path]) -> None:
    for spec in inputs:
        for path in _local_paths(str(spec)):
            if path == resolved or resolved in path.parents:
                raise OutputError(
                    f"{output}: holds the input {spec}, which replacing the folder would delete; "
                    "choose another output folder"
                )


def _local_paths(spec: str) -> list[Path]:
    """Where an input spec lies on this machine (a glob: the folder before its first wildcard), both as written
    and with symbolic links resolved; nothing for a Hub id or a URL (never inside a local output)."""
    if is_url(spec):
        return []
    path = Path(spec).expanduser()
    if glob.has_magic(spec):
        first_wildcard = next(i for i, part in enumerate(path.parts) if glob.has_magic(part))
        path = Path(*path.parts[:first_wildcard]) if first_wildcard else Path(".")
    elif not os.path.lexists(path):
        return []
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symbolic link loop: the input reader names it
        resolved = Path(os.path.abspath(path))
    return [Path(os.path.abspath(path)), resolved]


def _refuse_foreign(output: Path, resolved: Path) -> None:
    """A non-empty folder may be replaced only when it is an earlier output holding nothing but what we wrote."""
    if not is_dataset_output(resolved):
        raise OutputError(
            f"{output}: is not empty and is not an output of distill-data (no {PROVENANCE} written by it), "
            f"so --overwrite would delete files it did not write; choose another --output, or add {FORCE_FLAG} "
            "to delete the folder's contents"
        )
    foreign = sorted(p.name for p in resolved.iterdir() if p.name not in ENTRIES)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputError(
            f"{output}: holds files distill-data did not write ({shown}), which --overwrite would delete; "
            f"move them away, or add {FORCE_FLAG} to delete them"
        )


def is_dataset_output(folder: Path) -> bool:
    """Whether ``folder`` was written by distill-data: its provenance.json names distill-data's version."""
    try:
        record = json.loads(DatasetFolder(folder).provenance.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(record, dict) and isinstance(record.get("packages"), dict) and "distill-data" in record["packages"]
    )


def _is_mount_point(path: Path) -> bool:
    """A mount point, bind mounts included (``os.path.ismount`` misses a bind mount of the same file system)."""
    if os.path.ismount(path):
        return True
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as handle:
            points = {_unescape(line.split()[4]) for line in handle if len(line.split()) > 4}
    except OSError:  # not Linux
        return False
    return str(path) in points


def _unescape(field: str) -> str:
    """mountinfo writes a space, tab, newline and backslash in a path as octal escapes (``\\040``)."""
    for code in ("\\040", "\\011", "\\012", "\\134"):
        field = field.replace(code, chr(int(code[1:], 8)))
    return field


@contextlib.contextmanager
def claimed_output(
    output: Path, *, overwrite: bool, force: bool = False, inputs: Iterable[str | Path] = ()
) -> Iterator[Path]:
    """Check the output (:func:`check_output`), then hold its lock while the run writes it; yields its resolved
    path. It is checked again once the lock is held: another run may have finished in between."""
    check_output(output, overwrite=overwrite, force=force, inputs=inputs)
    with output_lock(output):
        yield check_output(output, overwrite=overwrite, force=force, inputs=inputs)


@contextlib.contextmanager
def output_lock(output: Path) -> Iterator[None]:
    """Hold ``.NAME.lock`` beside the output: a second run on the same output stops at once.

    The lock file is removed while the lock is still held, and a run that gets the lock checks that the file it
    locked is still the one at that path, so removing it never lets two runs in. Folders made to hold the lock are
    removed with it if they are still empty (a run that failed leaves no empty ``out/``).
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks, runs are not kept apart
        yield
        return
    output = Path(output).expanduser().resolve()
    path = output.parent / f".{output.name}.lock"
    made = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]  # deepest first
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = open(path, "a+b")  # noqa: SIM115 (held until the end of the with block below)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise OutputError(f"another run is writing {output} (it holds {path}); wait for it to finish") from None
        try:
            same = os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        handle.close()  # the holder removed it after we opened it: lock the new one
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        handle.close()
        for folder in made:
            with contextlib.suppress(OSError):  # not empty (the output is in it) or not ours any more: kept
                folder.rmdir()


@contextlib.contextmanager
def staging(output: Path, *, overwrite: bool, force: bool = False, folder: Path | None = None) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces ``output``, on any error it is removed.

    The folder is a fresh one with a random name, or ``folder`` (the work folder of a resumable run, which a
    kill leaves behind for ``--resume``), created if missing. Check the output with :func:`check_output` (and
    hold :func:`output_lock`) first; what is at ``output`` is checked again just before it is replaced.
    """
    output = Path(output).expanduser().resolve()
    stage = folder or output.parent / f".{output.name}.tmp-{uuid.uuid4().hex[:8]}"
    stage.mkdir(exist_ok=folder is not None)
    try:
        yield stage
        _still_replaceable(output, overwrite, force)
        _commit(stage, output)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _still_replaceable(output: Path, overwrite: bool, force: bool) -> None:
    """What was checked before the run, again at the commit: files may have been put there since."""
    if force or not (output.is_dir() and any(output.iterdir())):
        return
    if not overwrite:
        raise OutputError(f"{output}: files were put there during the run; nothing was replaced (use --overwrite)")
    _refuse_foreign(output, output)


def _commit(stage: Path, output: Path) -> None:
    """Put ``stage`` at ``output``. An existing output is swapped with the stage in one atomic step where the
    system can (Linux), so a run killed at any moment leaves the old output or the new one, never neither."""
    try:
        if output.exists() and _exchange(stage, output):
            shutil.rmtree(stage, ignore_errors=True)  # it now holds the old output
            return
        old = None
        if output.exists():
            old = output.parent / f".{output.name}.old-{uuid.uuid4().hex[:8]}"
            output.rename(old)
        try:
            stage.rename(output)
        except OSError:
            if old is not None:
                old.rename(output)
            raise
    except OSError as exc:
        if exc.errno not in (errno.EBUSY, errno.EXDEV):
            raise
        reason = "it is in use or a mount point" if exc.errno == errno.EBUSY else "it is on another file system"
        raise OutputError(f"{output}: cannot be replaced ({reason}); nothing was written") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # a C library without it (glibc < 2.28)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):  # a file system or kernel without exchange
        return False
    raise OSError(code, os.strerror(code), str(second))
