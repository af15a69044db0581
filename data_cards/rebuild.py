"""Rebuild data_cards/: the cards and plots of the two reference recipes on the bundled samples.

    python data_cards/rebuild.py

Each reference recipe (recipes/ultrachat_200k.yaml, recipes/ultrafeedback_binarized.yaml) runs on the bundled
sample of its source (distill_data/samples/), with a test split of 10% because the samples are small, and the
card (README.md) and assets/ of the result are copied here. tests/test_data_cards.py fails when they are out of
date.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from distill_data import build, load_recipe

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = {
    "ultrachat_200k": ("recipes/ultrachat_200k.yaml", "distill_data/samples/ultrachat_sample.jsonl"),
    "ultrafeedback_binarized": (
        "recipes/ultrafeedback_binarized.yaml",
        "distill_data/samples/ultrafeedback_sample.jsonl",
    ),
}


def build_reference(name: str, work: Path) -> Path:
    """Run one reference recipe on its sample into ``work/name``; returns the dataset folder."""
    recipe_file, sample = REFERENCES[name]
    recipe = load_recipe(ROOT / recipe_file)
    recipe.inputs = [sample]  # relative, so the card shows the same input wherever the repository lives
    recipe.split.test_size = 0.1
    out = work / name
    build(recipe, out, overwrite=True, progress=False)
    return out


def card_files(folder: Path) -> dict[str, Path]:
    """The files data_cards/ keeps of a dataset folder: README.md and everything under assets/."""
    files = {"README.md": folder / "README.md"}
    files.update({p.relative_to(folder).as_posix(): p for p in sorted((folder / "assets").iterdir())})
    return files


def main() -> None:
    import os

    os.chdir(ROOT)
    with tempfile.TemporaryDirectory() as work:
        for name in REFERENCES:
            built = build_reference(name, Path(work))
            target = ROOT / "data_cards" / name
            shutil.rmtree(target, ignore_errors=True)
            for relative, path in card_files(built).items():
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target / relative)
            print(f"data_cards/{name}: {', '.join(card_files(built))}", file=sys.stderr)


if __name__ == "__main__":
    main()
