"""The layout of a dataset folder, spelled once: where the shards, the card, the provenance and the plots go.

Every module that writes or reads an output names its paths through :class:`DatasetFolder`, so the Hub layout
(``data/{split}-{i:05d}-of-{n:05d}.parquet``, ``README.md``, ``provenance.json``, ``assets/``) has one home.
Only the standard library is imported here: the CLI uses it before any command runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA = "data"
ASSETS = "assets"
ARROW = "arrow"
CARD = "README.md"
PROVENANCE = "provenance.json"
REJECTS = "rejects.jsonl"
# What distill-data writes in a dataset folder; anything else in an old output is someone else's.
ENTRIES = frozenset({DATA, ASSETS, ARROW, CARD, PROVENANCE, REJECTS})


def shard_name(split: str, index: int, total: int) -> str:
    """``train_sft-00000-of-00002.parquet``: shard ``index`` of ``total``, the Hub's naming (it reads the split
    from the name)."""
    return f"{split}-{index:05d}-of-{total:05d}.parquet"


def unfinished_shard_name(split: str, index: int) -> str:
    """A shard while it is written (hidden; renamed with :func:`shard_name` once the split's total is known)."""
    return f".{split}-{index:05d}.parquet.part"


def split_pattern(split: str) -> str:
    """The card's ``data_files`` pattern of a split, relative to the folder (forward slashes, as the Hub reads it)."""
    return f"{DATA}/{split}-*"


@dataclass(frozen=True)
class DatasetFolder:
    """A dataset folder written (or being written) by distill-data: every path of its layout.

    >>> folder = DatasetFolder(Path("out"))
    >>> folder.shard("train_sft", 0, 2).as_posix()
    'out/data/train_sft-00000-of-00002.parquet'
    """

    path: Path

    @property
    def data(self) -> Path:
        """The folder of the Parquet shards."""
        return self.path / DATA

    @property
    def card(self) -> Path:
        return self.path / CARD

    @property
    def provenance(self) -> Path:
        return self.path / PROVENANCE

    @property
    def assets(self) -> Path:
        """The card's plots and their numbers."""
        return self.path / ASSETS

    @property
    def arrow(self) -> Path:
        """The optional ``DatasetDict.save_to_disk`` copy."""
        return self.path / ARROW

    @property
    def rejects(self) -> Path:
        """The input rows set aside with ``--on-error skip``."""
        return self.path / REJECTS

    def shard(self, split: str, index: int, total: int) -> Path:
        return self.data / shard_name(split, index, total)

    def split_files(self) -> dict[str, list[Path]]:
        """The Parquet files of each split present, by name order (the split is the file name up to its first -)."""
        files: dict[str, list[Path]] = {}
        for path in sorted(self.data.glob("*.parquet")):
            files.setdefault(path.name.split("-")[0], []).append(path)
        return files

    def split_names(self) -> list[str]:
        """The splits that have at least one shard."""
        return list(self.split_files())

    def has_split(self, split: str) -> bool:
        """Whether ``split`` has at least one shard."""
        return any(self.data.glob(f"{split}-*.parquet"))

    def is_marked(self) -> bool:
        """Whether the folder holds a provenance record (what any reader takes for a distill-data folder)."""
        return self.provenance.is_file()

    @classmethod
    def of_data_file(cls, path: Path) -> DatasetFolder | None:
        """The folder a data file belongs to: the file sits in ``FOLDER/data/`` beside ``FOLDER/provenance.json``."""
        folder = cls(path.parent.parent)
        return folder if path.parent.name == DATA and folder.is_marked() else None
