"""Sources: readers that turn raw teacher data (files, globs, folders, Hub ids) into Arrow batches."""

from .inputs import HubDataset, LocalFile, RawRecord, read_records, resolve_inputs
from .ultrachat import UltraChatSource, convert_row

__all__ = [
    "HubDataset",
    "LocalFile",
    "RawRecord",
    "UltraChatSource",
    "convert_row",
    "read_records",
    "resolve_inputs",
]
