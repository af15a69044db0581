"""The ``distill-data generate`` and ``distill-data rate`` commands: parse options, run, print a summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from ..cli_shell import console, output_options, progress_option, reports_errors, summary_console, with_options
from ..dataset_folder import REJECTS
from ..errors import ConfigError
from .endpoint import parse_endpoint, parse_endpoints
from .principles import PrincipleMix
from .rubrics import ASPECTS, parse_aspects
from .usage import parse_price

if TYPE_CHECKING:  # the HTTP client and the writer are imported when a command runs, not on every CLI start
    from .runner import FeedbackResult, RunOptions


_endpoint_options = with_options(
    click.option(
        "--api-key-env",
        metavar="VAR",
        default=None,
        help="Environment variable holding the API key, for endpoints without their own #VAR. Only its name is "
        "recorded.",
    ),
    click.option("--seed", type=int, default=42, show_default=True, help="Seed of every request and principle pick."),
    click.option(
        "--max-tokens", type=click.IntRange(min=1), default=1024, show_default=True, help="Most tokens per answer."
    ),
)

_run_options = with_options(
    output_options,
    click.option(
        "--concurrency", type=click.IntRange(min=1), default=8, show_default=True, help="Requests in flight at most."
    ),
    click.option(
        "--max-retries",
        type=click.IntRange(min=0),
        default=5,
        show_default=True,
        help="Retries of a request on 429, 5xx, timeouts and connection errors.",
    ),
    click.option(
        "--backoff",
        type=click.FloatRange(min=0),
        default=1.0,
        show_default=True,
        help="Seconds before the first retry, doubled each time (with jitter; at least what Retry-After asks).",
    ),
    click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=600.0,
        show_default=True,
        help="Seconds to wait for one answer.",
    ),
    click.option(
        "--cache-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Where answers are kept (SQLite) [default: OUTPUT.cache beside the output].",
    ),
    click.option("--no-cache", is_flag=True, help="Neither read nor keep answers."),
    click.option(
        "--resume",
        is_flag=True,
        help="Continue a run that stopped: answers already in the cache are not asked again (a rerun does the "
        "same; --resume also checks that the cache exists).",
    ),
    click.option(
        "--price",
        "prices",
        multiple=True,
        metavar="MODEL=IN/OUT",
        help="Dollars per million input/output tokens of a model, for the cost estimate (repeatable).",
    ),
    click.option(
        "--on-error",
        type=click.Choice(["fail", "skip"]),
        default="fail",
        show_default=True,
        help="On a bad input row or a request that fails after its retries: stop, or set it aside and go on.",
    ),
    progress_option,
)


def _options(run: dict[str, Any], models: list[str]) -> RunOptions:
    from .client import RetryPolicy
    from .runner import RunOptions

    prices = dict(parse_price(spec) for spec in run["prices"])
    unknown = sorted(set(prices) - set(models))
    if unknown:
        raise ConfigError(f"--price: no model named {', '.join(unknown)} in this run (models: {', '.join(models)})")
    return RunOptions(
        concurrency=run["concurrency"],
        policy=RetryPolicy(max_retries=run["max_retries"], backoff=run["backoff"], timeout=run["timeout"]),
        cache_dir=run["cache_dir"],
        use_cache=not run["no_cache"],
        resume=run["resume"],
        on_error=run["on_error"],
        overwrite=run["overwrite"],
        force_overwrite=run["force_overwrite"],
        progress=run["progress"],
        console=console,
        prices=prices,
    )


@click.command()
@click.option(
    "--prompts",
    "-p",
    multiple=True,
    required=True,
    metavar="FILE_OR_ID",
    help="Prompts: a .jsonl/.json/.parquet file, a glob, a folder or a Hub dataset id (repeatable).",
)
@click.option("--field", default=None, help="The prompt field of each row [default: instruction, else prompt].")
@click.option(
    "--model",
    "-m",
    "models",
    multiple=True,
    required=True,
    metavar="NAME@URL[#KEY_VAR]",
    help="A model and its OpenAI-compatible endpoint, e.g. mistral-7b@http://localhost:8000/v1 (repeatable).",
)
@click.option("--n-per-model", type=click.IntRange(min=1), default=1, show_default=True, help="Completions per model.")
@click.option("--temperature", type=click.FloatRange(min=0), default=1.0, show_default=True)
@click.option("--top-p", type=click.FloatRange(min=0, max=1), default=None, help="Nucleus sampling [default: unset].")
@click.option(
    "--principles",
    default=None,
    metavar="NAME[=WEIGHT],...",
    help="Sample a principle system prompt per completion, as UltraFeedback did: helpfulness, honesty, "
    "truthfulness, verbalized_calibration, or 'all'.",
)
@_endpoint_options
@_run_options
@reports_errors
def generate(
    prompts: tuple[str, ...],
    field: str | None,
    models: tuple[str, ...],
    n_per_model: int,
    temperature: float,
    top_p: float | None,
    principles: str | None,
    api_key_env: str | None,
    seed: int,
    max_tokens: int,
    **run: Any,
) -> None:
    """Ask every --model for a completion of every prompt (OpenAI-compatible endpoints), for `rate`."""
    from .generation import GenerationParams
    from .generation import generate as run_generate

    endpoints = parse_endpoints(models, "--model", api_key_env)
    for endpoint in endpoints:
        endpoint.api_key()  # a missing key fails now, before any work
    params = GenerationParams(
        n_per_model=n_per_model,
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        seed=seed,
        principles=PrincipleMix.parse(principles) if principles is not None else None,
    )
    options = _options(run, [endpoint.name for endpoint in endpoints])
    result = run_generate(list(prompts), endpoints, run["output"], field=field, params=params, options=options)
    print_summary(result)


@click.command()
@click.option(
    "--input",
    "-i",
    "inputs",
    multiple=True,
    required=True,
    metavar="DIR_OR_FILE",
    help="Rows with completions: a `generate` output folder, a .jsonl/.json/.parquet file, a glob or a Hub id "
    "(repeatable).",
)
@click.option(
    "--judge",
    required=True,
    metavar="NAME@URL[#KEY_VAR]",
    help="The judge model and its OpenAI-compatible endpoint.",
)
@click.option(
    "--aspects",
    default=",".join(ASPECTS),
    show_default=True,
    help="Aspects to rate (the others are recorded as N/A).",
)
@click.option("--temperature", type=click.FloatRange(min=0), default=0.0, show_default=True)
@click.option(
    "--parse-retries",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Times to re-ask the judge when its answer cannot be read in full (then N/A, raw answer kept).",
)
@_endpoint_options
@_run_options
@reports_errors
def rate(
    inputs: tuple[str, ...],
    judge: str,
    aspects: str,
    temperature: float,
    parse_retries: int,
    api_key_env: str | None,
    seed: int,
    max_tokens: int,
    **run: Any,
) -> None:
    """Have a --judge rate every completion per aspect (1..5 and a rationale), in the schema `binarize` reads."""
    from .rating import RatingParams
    from .rating import rate as run_rate

    endpoint = parse_endpoint(judge, "--judge", api_key_env)
    endpoint.api_key()
    params = RatingParams(
        aspects=parse_aspects(aspects),
        temperature=temperature,
        max_tokens=max_tokens,
        seed=seed,
        parse_retries=parse_retries,
    )
    result = run_rate(list(inputs), endpoint, run["output"], params=params, options=_options(run, [endpoint.name]))
    print_summary(result)


def print_summary(result: FeedbackResult) -> None:
    """Per model: answers, requests sent, retries, cache hits, failures, tokens and cost; then rating problems."""
    out = summary_console
    usage = result.usage
    priced = any("cost_usd" in entry for entry in usage.values())
    table = Table(title=f"distill-data {result.provenance['command']}: models", title_justify="left")
    for column in ("model", "answers", "sent", "retries", "cache hits", "failed", "tokens in", "tokens out"):
        table.add_column(column, justify="left" if column == "model" else "right", no_wrap=column == "model")
    if priced:
        table.add_column("cost (USD)", justify="right")
        table.add_column("this run", justify="right")
    for model, entry in usage.items():
        cells = [
            model,
            *(f"{entry[key]:,}" for key in ("answers", "requests", "retries", "cache_hits", "failed")),
            f"{entry['tokens_in']:,}",
            f"{entry['tokens_out']:,}",
        ]
        if priced:
            costs = (entry.get("cost_usd"), entry.get("cost_usd_this_run"))
            cells += [f"{cost:.4f}" if cost is not None else "-" for cost in costs]
        table.add_row(*cells)
    out.print(table)
    parse = result.provenance.get("parse")
    if parse:
        ratings = Table(title="judge answers", title_justify="left")
        for column in ("aspect", "prompts", "re-asked", "left N/A", "responses N/A"):
            ratings.add_column(column, justify="left" if column == "aspect" else "right")
        for aspect, counts in parse.items():
            ratings.add_row(aspect, *(f"{counts[key]:,}" for key in ("asked", "retried", "failed", "unrated")))
        out.print(ratings)
    failures = result.provenance.get("failures", {}).get("count", 0)
    notes = [f"{result.rejected:,} rows set aside in {REJECTS}"] if result.rejected else []
    if failures:
        notes.append(f"{failures:,} requests failed after their retries and were skipped")
    out.print(
        f"wrote {result.output}: {result.rows:,} rows" + (f" ({'; '.join(notes)})" if notes else ""),
        highlight=False,
        soft_wrap=True,
    )
