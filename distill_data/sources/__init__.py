"""Sources: readers that turn raw teacher data (files, globs, folders, Hub ids) into Arrow batches."""

from .inputs import HubDataset, LocalFile, RawRecord, read_records, resolve_inputs
from .rows import FieldProblem, RowSource
from .ultrachat import UltraChatSource, convert_row

__all__ = [
    "FieldProblem",
    "HubDataset",
    "LocalFile",
    "RawRecord",
    "RowSource",
    "UltraChatSource",
    "convert_row",
    "read_records",
    "resolve_inputs",
]
