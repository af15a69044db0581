"""data_cards/ holds what the reference recipes produce on the bundled samples; it must not go stale."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from huggingface_hub import DatasetCard

spec = importlib.util.spec_from_file_location("rebuild", REPO / "data_cards" / "rebuild.py")
rebuild = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rebuild)


def same(fresh: Any, kept: Any) -> bool:
    """Equal in structure and in every string and integer; floats equal to 1e-9 relative, in case a last bit
    still differs between machines (they are written rounded to six significant digits)."""
    if isinstance(fresh, float) or isinstance(kept, float):
        numbers = all(isinstance(x, int | float) for x in (fresh, kept))
        return numbers and math.isclose(fresh, kept, rel_tol=1e-9)
    if isinstance(fresh, dict) and isinstance(kept, dict):
        return fresh.keys() == kept.keys() and all(same(fresh[key], kept[key]) for key in fresh)
    if isinstance(fresh, list) and isinstance(kept, list):
        return len(fresh) == len(kept) and all(same(a, b) for a, b in zip(fresh, kept, strict=True))
    return type(fresh) is type(kept) and fresh == kept


def card_parts(path: Path) -> tuple[dict[str, Any], str]:
    """The card's YAML as data, without the Parquet file sizes (they depend on the pyarrow version that wrote
    the files), and its Markdown body as text."""
    card = DatasetCard.load(path)
    data = card.data.to_dict()
    data.get("dataset_info", {}).pop("download_size", None)
    return data, card.text


@pytest.mark.parametrize("name", sorted(rebuild.REFERENCES))
def test_data_cards_are_up_to_date(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    built = rebuild.build_reference(name, tmp_path)
    kept = REPO / "data_cards" / name
    fresh = rebuild.card_files(built)
    assert sorted(fresh) == sorted(p.relative_to(kept).as_posix() for p in kept.rglob("*") if p.is_file()), (
        "data_cards/ is out of date: run `python data_cards/rebuild.py`"
    )
    hint = f"data_cards/{name} is out of date: run `python data_cards/rebuild.py`"
    fresh_yaml, fresh_text = card_parts(fresh["README.md"])
    kept_yaml, kept_text = card_parts(kept / "README.md")
    assert same(fresh_yaml, kept_yaml), hint
    assert fresh_text == kept_text, hint
    plot_data = json.loads(fresh["assets/plot_data.json"].read_text())
    assert same(plot_data, json.loads((kept / "assets" / "plot_data.json").read_text())), hint
    for relative in fresh:
        if relative.endswith(".png"):
            assert (kept / relative).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert f"]({relative})" in (kept / "README.md").read_text()
    card = DatasetCard.load(kept / "README.md")
    assert "distill-data" in card.data.tags
