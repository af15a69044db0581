"""The ``distill-data`` click group: the dataset commands (parse options, build a recipe, run it, print a summary)
and ``train``; ``check``, ``generate`` and ``rate`` live in their subpackages and are registered here.

What every command shares (consoles, common options, error reporting, exit codes) is in cli_shell.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from .check.command import check  # its own module; imports transformers only when it runs
from .cli_shell import (
    FULL_DISK_ERRNOS,
    MACHINE_ERRNOS,
    console,
    output_options,
    progress_option,
    reports_errors,
    summary_console,
    with_options,
)
from .dataset_folder import PROVENANCE, REJECTS, DatasetFolder
from .engines import ENGINES
from .errors import ConfigError, OutputError
from .feedback.commands import generate, rate  # the HTTP client is imported when they run
from .output_folder import output_lock
from .presets import DEFAULT_PRESET, PRESETS, preset_help

if TYPE_CHECKING:
    from .builder import BuildResult
    from .recipes import Recipe

# The pipeline (Arrow, polars, datasets, langdetect) is imported inside the commands, so `--help` starts at once.


class TestSize(click.ParamType):
    """A fraction such as 0.1 or a row count such as 2000."""

    name = "FRACTION|COUNT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float | int:
        if isinstance(value, (int, float)):
            return value
        from .splits import parse_test_size

        try:
            return parse_test_size(value)
        except ValueError:
            self.fail(f"{value!r} is neither a fraction (0.1) nor a row count (2000)", param, ctx)


def _writing_output(exc: OSError, output: Path) -> bool:
    """Whether ``exc`` is a failure to write the output: the disk, or a path in it or its staging folder."""
    if exc.errno in FULL_DISK_ERRNOS:
        return True
    if exc.errno not in MACHINE_ERRNOS or not exc.filename:
        return False
    output = output.resolve()
    failed = Path(os.fsdecode(exc.filename))
    return any(
        path == output or (path.parent == output.parent and path.name.startswith(f".{output.name}."))
        for path in (failed, *failed.parents)
    )


# Options shared by every command that writes a dataset.
_run_options = with_options(
    output_options,
    click.option(
        "--resume",
        is_flag=True,
        help="Continue the unfinished (killed) run of this output from its last checkpoint; same inputs and options.",
    ),
    click.option(
        "--on-error",
        type=click.Choice(["fail", "skip"]),
        default="fail",
        show_default=True,
        help=f"On a bad input row: stop with an error, or set it aside in OUTPUT/{REJECTS}.",
    ),
    click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        default=10_000,
        show_default=True,
        help="Rows per Arrow batch at most; a smaller input is cut into 4 (the output does not depend on it).",
    ),
    progress_option,
    click.option(
        "--shard-mb",
        type=click.IntRange(min=1),
        default=256,
        show_default=True,
        help="Start a new Parquet shard of a split after this many MB of (uncompressed Arrow) data.",
    ),
    click.option(
        "--num-proc",
        type=click.IntRange(min=1),
        default=None,
        help="Workers for the per-row work [default: all cores, or all CPUs of the Ray cluster]; the output "
        "does not depend on it.",
    ),
    click.option(
        "--engine",
        type=click.Choice(ENGINES),
        default="local",
        show_default=True,
        help="Where the per-row work runs: processes of this machine, or Ray actors (pip install 'distill-data[ray]').",
    ),
    click.option(
        "--ray-address",
        default=None,
        help="With --engine ray: the cluster to join (for example auto or ray://HEAD:10001) [default: a local Ray].",
    ),
)


def _dataset_options(
    *, input_help: str, seed_help: str, test_size: float | int, test_size_help: str
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Options shared by the commands that build one kind of dataset from raw inputs."""
    return with_options(
        click.option("--input", "-i", "inputs", multiple=True, required=True, help=input_help),
        click.option(
            "--decontaminate",
            "benchmarks",
            multiple=True,
            metavar="FILE_OR_ID",
            help="Drop prompts found in this benchmark (.jsonl/.json/.csv/.parquet or a Hub id; repeatable).",
        ),
        click.option(
            "--near-dedup",
            type=click.FloatRange(min=0.0, max=1.0, min_open=True),
            default=None,
            metavar="JACCARD",
            help="Also drop prompts this similar (MinHash estimate, e.g. 0.85) to an earlier one.",
        ),
        click.option("--seed", type=int, default=42, show_default=True, help=seed_help),
        click.option("--test-size", type=TestSize(), default=test_size, show_default=True, help=test_size_help),
        click.option("--max-samples", type=click.IntRange(min=1), default=None, help="Keep a seeded subset of N rows."),
        click.option(
            "--format",
            "format_",
            type=click.Choice(["parquet", "arrow"]),
            default="parquet",
            show_default=True,
            help="'arrow' also writes a DatasetDict.save_to_disk folder at OUTPUT/arrow.",
        ),
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="distill-data")
def cli() -> None:
    """Turn teacher-generated data into datasets that align chat models (Zephyr-style SFT and DPO)."""


@cli.command()
@click.option(
    "--filter/--no-filter",
    "filter_",
    default=False,
    help="Apply the UltraChat 200k filters (structure, disclaimers, language, dedup).",
)
@click.option("--truecase/--no-truecase", default=True, show_default=True, help="Fix sentence-start capitals.")
@click.option(
    "--language",
    "languages",
    multiple=True,
    default=("en",),
    show_default=True,
    help="Languages to keep with --filter (repeatable; langdetect codes).",
)
@click.option("--max-chars", type=click.IntRange(min=1), default=None, help="With --filter: drop longer dialogues.")
@_dataset_options(
    input_help="A .jsonl/.json/.parquet file (.gz/.bz2/.xz/.zst too), a glob, a folder or a Hub id (repeatable).",
    seed_help="Seed of the subset and train/test split.",
    test_size=0.1,
    test_size_help="Test split: a fraction (0.1) or a row count (2000).",
)
@_run_options
@reports_errors
def ultrachat(
    inputs: tuple[str, ...],
    benchmarks: tuple[str, ...],
    near_dedup: float | None,
    filter_: bool,
    truecase: bool,
    languages: tuple[str, ...],
    max_chars: int | None,
    seed: int,
    test_size: float | int,
    max_samples: int | None,
    format_: str,
    **run: Any,
) -> None:
    """Build an ultrachat_200k-style SFT dataset (train/test, sft/gen splits) from raw UltraChat rows."""
    from .recipes import ultrachat_recipe
    from .splits import SplitConfig

    recipe = ultrachat_recipe(
        list(inputs),
        filter=filter_,
        truecase=truecase,
        languages=languages,
        max_chars=max_chars,
        decontaminate=benchmarks,
        near_dedup=near_dedup,
        split=SplitConfig(test_size=test_size, max_samples=max_samples, seed=seed),
        format=format_,
    )
    _build(recipe, **run)


@cli.command()
@click.option(
    "--preset",
    type=click.Choice(list(PRESETS)),
    default=DEFAULT_PRESET,
    show_default=True,
    help=preset_help(),
)
@click.option(
    "--ties",
    type=click.Choice(["keep", "drop"]),
    default="keep",
    show_default=True,
    help="Drop the pairs whose rejected score equals the chosen score.",
)
@_dataset_options(
    input_help="A .jsonl/.json/.parquet file (.gz/.bz2/.xz/.zst too), a glob, a folder or a Hub id such as "
    "openbmb/UltraFeedback.",
    seed_help="Seed of the rejected pick and the split.",
    test_size=2000,
    test_size_help="Test pairs: a row count (2000) or a fraction (0.03).",
)
@_run_options
@reports_errors
def binarize(
    inputs: tuple[str, ...],
    benchmarks: tuple[str, ...],
    near_dedup: float | None,
    preset: str,
    seed: int,
    ties: str,
    test_size: float | int,
    max_samples: int | None,
    format_: str,
    **run: Any,
) -> None:
    """Build ultrafeedback_binarized-style preference pairs from raw UltraFeedback rows."""
    from .recipes import binarize_recipe

    recipe = binarize_recipe(
        list(inputs),
        preset=preset,
        seed=seed,
        ties=ties,
        test_size=test_size,
        max_samples=max_samples,
        format=format_,
        decontaminate=benchmarks,
        near_dedup=near_dedup,
    )
    _build(recipe, **run)


@cli.command()
@click.argument("recipe_file", type=click.Path(path_type=Path))
@click.option("--input", "-i", "inputs", multiple=True, help="Replace the recipe's inputs (repeatable).")
@click.option(
    "--seed", type=int, default=None, help="Replace the recipe's split seed (step seeds stay as the recipe says)."
)
@_run_options
@reports_errors
def run(recipe_file: Path, inputs: tuple[str, ...], seed: int | None, **run: Any) -> None:
    """Run a recipe file (for example recipes/ultrachat_200k.yaml)."""
    from .recipes import load_recipe

    recipe = load_recipe(recipe_file)
    if inputs:
        recipe.inputs = list(inputs)
    if seed is not None:
        recipe.split.seed = seed
    _build(recipe, **run)


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@reports_errors
def card(folder: Path) -> None:
    """Rebuild the dataset card (README.md) and plots (assets/) of FOLDER from provenance.json and the data."""
    from .cards import write_card

    dataset = DatasetFolder(folder)
    if not dataset.is_marked():
        raise OutputError(f"{folder}: no {PROVENANCE} (is this a folder written by distill-data?)")
    with output_lock(folder):  # not while a run replaces it
        write_card(folder)
    summary_console.print(f"wrote {dataset.card} and {dataset.assets}/", highlight=False, soft_wrap=True)


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--repo-id", required=True, help="The dataset repository, OWNER/NAME (created when missing).")
@click.option("--private", is_flag=True, help="Create the repository as private.")
@click.option("--revision", default=None, help="The branch to commit to (created when missing; default main).")
@click.option("--commit-message", default=None, help="The commit message.")
@click.option("--dry-run", is_flag=True, help="List what would be uploaded and change nothing.")
@reports_errors
def push(
    folder: Path, repo_id: str, private: bool, revision: str | None, commit_message: str | None, dry_run: bool
) -> None:
    """Upload a dataset FOLDER (data/, README.md, provenance.json, assets/) to the Hub in one commit.

    The token comes from HF_TOKEN or the stored login (`hf auth login`).
    """
    from .hub import push as push_to_hub

    result = push_to_hub(
        folder, repo_id, private=private, revision=revision, commit_message=commit_message, dry_run=dry_run
    )
    table = Table(
        title=f"{'would upload' if dry_run else 'uploaded'} to {repo_id}@{result.revision}", title_justify="left"
    )
    table.add_column("file", no_wrap=True)
    table.add_column("bytes", justify="right")
    for name, size in result.files:
        table.add_row(name, f"{size:,}")
    for name in result.deleted:
        table.add_row(f"{name} (deleted)", "-")
    table.add_row("total", f"{sum(size for _, size in result.files):,}")
    summary_console.print(table)
    if result.dry_run:
        summary_console.print("dry run: nothing was uploaded")
    else:
        summary_console.print(f"commit: {result.commit_url}", highlight=False, soft_wrap=True)


@cli.group()
def train() -> None:
    """Train a model on a dataset: SFT, then DPO from the SFT model (TRL; launchable with `accelerate launch`)."""


def _train_command(stage: str) -> Callable[..., None]:
    @click.option(
        "--recipe",
        "recipe_file",
        type=click.Path(path_type=Path),
        required=True,
        help="A training recipe (YAML), e.g. recipes/smoke/sft.yaml.",
    )
    @click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override a recipe field, e.g. --set training.learning_rate=1e-4 (repeatable).",
    )
    @click.option(
        "--force-overwrite",
        is_flag=True,
        help="DANGER: save into a non-empty output_dir that holds no earlier training output (its files may be "
        "overwritten).",
    )
    @reports_errors
    def command(recipe_file: Path, overrides: tuple[str, ...], force_overwrite: bool) -> None:
        from .train import load_train_recipe
        from .train import train as run_training

        recipe = load_train_recipe(recipe_file, stage, overrides)  # type: ignore[arg-type]
        result = run_training(recipe, force_overwrite=force_overwrite)
        summary_console.print(
            f"trained {result.global_step} steps on {result.train_rows:,} rows; model and tokenizer in "
            f"{result.output_dir}; metrics in {result.metrics_file}"
            + (f"; pushed to {result.pushed_to}" if result.pushed_to else ""),
            highlight=False,
            soft_wrap=True,
        )

    command.__doc__ = (
        f"{stage.upper()} training from a recipe (TRL {'SFTTrainer' if stage == 'sft' else 'DPOTrainer'})."
    )
    return command


train.command("sft")(_train_command("sft"))
train.command("dpo")(_train_command("dpo"))


def _build(
    recipe: Recipe,
    *,
    output: Path,
    overwrite: bool,
    force_overwrite: bool,
    on_error: str,
    batch_size: int,
    progress: bool,
    num_proc: int | None,
    shard_mb: int,
    engine: str,
    ray_address: str | None,
    resume: bool,
) -> None:
    from .builder import build

    if ray_address is not None and engine != "ray":
        raise ConfigError("--ray-address needs --engine ray")
    try:
        result = build(
            recipe,
            output,
            overwrite=overwrite,
            force_overwrite=force_overwrite,
            on_error=on_error,
            batch_size=batch_size,
            progress=progress,
            console=console,
            num_proc=num_proc,
            shard_bytes=shard_mb * 2**20,
            engine=engine,
            ray_address=ray_address,
            resume=resume,
        )
    except OSError as exc:
        if not _writing_output(exc, output):
            raise
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise OutputError(f"{output}: cannot write the output ({reason}); nothing was written") from exc

    print_summary(result)


def print_summary(result: BuildResult) -> None:
    """Rows in and out and drops per reason for each step, then the split sizes."""
    table = Table(title="distill-data: steps", title_justify="left")
    table.add_column("step", no_wrap=True)
    table.add_column("rows in", justify="right")
    table.add_column("rows out", justify="right")
    table.add_column("dropped")
    table.add_column("other")
    for step in result.steps:
        dropped = "\n".join(f"{reason}: {n:,}" for reason, n in sorted(step["dropped"].items()))
        other = "\n".join(f"{name}: {n:,}" for name, n in sorted(step["counters"].items()))
        table.add_row(step["name"], f"{step['rows_in']:,}", f"{step['rows_out']:,}", dropped or "-", other or "-")
    out = summary_console
    out.print(table)
    for step in result.steps:
        tallies = step.get("tallies") or {}
        if "chosen_model" in tallies or "rejected_model" in tallies:
            out.print(_model_table(tallies))
    splits = ", ".join(f"{name} {rows:,}" for name, rows in result.splits.items())
    rejected = f"; {result.rejected:,} rows set aside in {REJECTS}" if result.rejected else ""
    out.print(
        f"read {result.rows_read:,} rows{rejected}; wrote {result.output}: {splits}",
        highlight=False,
        soft_wrap=True,
    )


def _model_table(tallies: dict[str, dict[str, int]]) -> Table:
    """How often each model's response was chosen and rejected."""
    chosen, rejected = tallies.get("chosen_model", {}), tallies.get("rejected_model", {})
    table = Table(title="models", title_justify="left")
    table.add_column("model", no_wrap=True)
    table.add_column("chosen", justify="right")
    table.add_column("rejected", justify="right")
    for model in sorted(set(chosen) | set(rejected), key=lambda m: (-chosen.get(m, 0), m)):
        table.add_row(model, f"{chosen.get(model, 0):,}", f"{rejected.get(model, 0):,}")
    return table


cli.add_command(check)
cli.add_command(generate)
cli.add_command(rate)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
