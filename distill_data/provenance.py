"""provenance.json: a machine-readable record of how a dataset was made."""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from .dataset_folder import DatasetFolder

PACKAGES = ("distill-data", "pyarrow", "polars", "datasets", "huggingface_hub", "ftfy", "langdetect")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_provenance(path: Path, record: dict[str, Any]) -> None:
    """Write the record as stable, sorted-key JSON (no timestamps: the same run gives the same bytes)."""
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def read_provenance(folder: Path) -> dict[str, Any]:
    return json.loads(DatasetFolder(folder).provenance.read_text(encoding="utf-8"))
