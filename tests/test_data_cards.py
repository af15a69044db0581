"""data_cards/ holds what the reference recipes produce on the bundled samples; it must not go stale."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from conftest import REPO
from huggingface_hub import DatasetCard

spec = importlib.util.spec_from_file_location("rebuild", REPO / "data_cards" / "rebuild.py")
rebuild = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rebuild)


def stable(card: str) -> str:
    """The card without the Parquet file sizes, which depend on the pyarrow version that wrote the files."""
    return re.sub(r"download_size: \d+", "download_size: N", card)


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
    assert stable(fresh["README.md"].read_text()) == stable((kept / "README.md").read_text()), hint
    assert fresh["assets/plot_data.json"].read_bytes() == (kept / "assets" / "plot_data.json").read_bytes(), hint
    for relative in fresh:
        if relative.endswith(".png"):
            assert (kept / relative).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert f"]({relative})" in (kept / "README.md").read_text()
    card = DatasetCard.load(kept / "README.md")
    assert "distill-data" in card.data.tags
