"""Sources: readers that turn raw teacher data (files, globs, folders, Hub ids) into Arrow batches.

The names below are imported on first use, so a light module of this package (``hub_ids``) can be imported
without Arrow (the CLI's start-up).
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "FieldProblem": "rows",
    "HubDataset": "inputs",
    "LocalFile": "inputs",
    "RawRecord": "inputs",
    "RowSource": "rows",
    "UltraChatSource": "ultrachat",
    "convert_row": "ultrachat",
    "read_records": "inputs",
    "resolve_inputs": "inputs",
}
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
