"""The dataset card of a ``generate`` or ``rate`` output: who wrote the completions, who rated them, what it cost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from .. import citations
from ..card_facts import dataset_info, size_category, sources_markdown, split_configs
from ..dataset_folder import PROVENANCE, DatasetFolder

TITLES = {
    "generate": "Completions for AI feedback (distill-data generate)",
    "rate": "Rated completions, UltraFeedback schema (distill-data rate)",
}
COMMANDS = tuple(TITLES)  # the provenance commands whose folders get this card


def write_feedback_card(folder: Path, provenance: dict[str, Any]) -> DatasetCard:
    """Write ``folder/README.md`` from the provenance record and the data files."""
    info = dataset_info(folder, list(provenance["splits"]))
    rows = provenance["splits"]["train"]
    data = DatasetCardData(
        license="other",
        task_categories=["text-generation"],
        tags=["synthetic", "ai-feedback", "ultrafeedback", "distill-data"],
        size_categories=[size_category(rows)],
        pretty_name=TITLES[provenance["command"]],
        configs=split_configs(["train"] if rows else []),
        dataset_info=info,
    )
    command = provenance["command"]
    sections = [f"# {TITLES[command]}\n\n{_summary(provenance)}"]
    if command == "rate":
        sections.append("## Judge\n\n" + _judge(provenance))
    sections += [
        "## Models and usage\n\n" + _usage(provenance),
        "## Source data\n\n" + sources_markdown(provenance["inputs"]),
        "## Schema\n\n" + _schema(command),
        "## Use\n\n" + _use(command),
        "## Known limitations\n\n" + "\n".join(f"- {item}" for item in _limitations(provenance)),
        "## Citation\n\n```bibtex\n" + "\n\n".join((citations.ULTRAFEEDBACK, citations.ZEPHYR)) + "\n```",
    ]
    card = DatasetCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n\n".join(sections) + "\n")
    card.save(DatasetFolder(folder).card)
    return card


def _summary(provenance: dict[str, Any]) -> str:
    rows = provenance["splits"]["train"]
    if provenance["command"] == "generate":
        models = ", ".join(f"`{model['name']}`" for model in provenance["models"])
        params = provenance["params"]
        return (
            f"{rows:,} prompts, each answered by {models} ({params['n_per_model']} completion(s) per model), in the "
            "raw UltraFeedback schema, by `distill-data generate`. Rate them with `distill-data rate`."
        )
    generators = ", ".join(f"`{name}`" for name in provenance["generators"]) or "(none)"
    return (
        f"{rows:,} prompts with completions by {generators}, rated by the judge `{provenance['judge']['name']}` "
        "in the raw UltraFeedback schema, by `distill-data rate`. `distill-data binarize --input DIR` turns them "
        "into preference pairs."
    )


def _judge(provenance: dict[str, Any]) -> str:
    params, rubrics = provenance["params"], provenance["rubrics"]
    lines = [
        f"- judge: `{provenance['judge']['name']}` at `{provenance['judge']['endpoint']}`",
        f"- aspects: {', '.join(params['aspects'])}; rubrics version `{rubrics['version']}` (distill-data, in the "
        f"spirit of UltraFeedback's four aspects; sha256 of each text in `{PROVENANCE}`)",
        f"- temperature {params['temperature']}, max tokens {params['max_tokens']}, seed {params['seed']}, "
        f"up to {params['parse_retries']} re-asks of an unreadable answer",
    ]
    for aspect, counts in provenance["parse"].items():
        lines.append(
            f"- {aspect}: {counts['asked']:,} prompts rated, {counts['retried']:,} re-asked, {counts['failed']:,} left "
            "with N/A ratings (raw answers in `rating_failures`)"
        )
    return "\n".join(lines)


def _usage(provenance: dict[str, Any]) -> str:
    priced = any("cost_usd" in entry for entry in provenance["usage"].values())
    header = "| model | answers | requests sent | cache hits | failed | tokens in | tokens out |" + (
        " cost (USD) |" if priced else ""
    )
    rows = [header, "|---" * (header.count("|") - 1) + "|"]
    for model, entry in provenance["usage"].items():
        cost = f" {entry['cost_usd']:.4f} |" if "cost_usd" in entry else (" - |" if priced else "")
        rows.append(
            f"| `{model}` | {entry['answers']:,} | {entry['requests']:,} | {entry['cache_hits']:,} "
            f"| {entry['failed']:,} | {entry['tokens_in']:,} | {entry['tokens_out']:,} |{cost}"
        )
    return "\n".join(rows) + "\n\nTokens are those the endpoints reported for the answers in this dataset."


def _schema(command: str) -> str:
    columns = [
        "`instruction` (string): the prompt",
        "`source` (string): where the prompt came from (its `source` field, else the input file's name)",
        "`models` (list of string): the model of each completion",
        "`completions` (list): `model`, `response`, `custom_system_prompt` (the principle's system prompt, or "
        '"") and `principle` ("none" without `--principles`)',
    ]
    if command == "rate":
        columns[-1] += (
            ', plus `annotations.<aspect>.Rating` ("1".."5" or "N/A") and `.Rationale`, and '
            "`fine-grained_score` (the mean of the numeric ratings, null if none)"
        )
        columns.append(
            "`rating_failures` (list): per aspect whose answer could not be read in full, the attempts, the problem "
            "and the judge's raw answers"
        )
    return "\n".join(f"- {column}" for column in columns)


def _use(command: str) -> str:
    if command == "generate":
        return "```bash\ndistill-data rate --input DIR --judge NAME@URL --output RATED\n```"
    return "```bash\ndistill-data binarize --input DIR --output PAIRS\n```"


def _limitations(provenance: dict[str, Any]) -> list[str]:
    items = [
        "The completions are model outputs: check the terms of use of every model named here before sharing or "
        "training on them (the licence above is therefore `other`).",
    ]
    if provenance["command"] == "rate":
        items.append(
            "The ratings come from one model judge and carry its biases (towards length, its own style, the first "
            "responses); an answer it did not give in a readable form is recorded as N/A."
        )
    failures = provenance.get("failures", {}).get("count", 0)
    if failures:
        items.append(f"{failures:,} requests failed after their retries and were left out (see {PROVENANCE}).")
    return items
