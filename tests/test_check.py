"""`distill-data check`: every check fires on a tokenizer or dataset built with its defect and stays quiet on a
clean one; lengths match what TRL's trainers tokenize."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import BUNDLED_SAMPLE, REPO
from hub_server import serve

from distill_data import build, load_recipe
from distill_data.check import CheckReport, check_dataset
from distill_data.cli import cli
from distill_data.errors import ConfigError
from distill_data.train.chat_template import ZEPHYR

# Defective variants of the trainer's Zephyr template.
NO_EOS = ZEPHYR.replace(
    "{% generation %}{{ message['content'] + eos_token }}{% endgeneration %}",
    "{% generation %}{{ message['content'] }}{% endgeneration %}",
)
EOS_OUTSIDE_GENERATION = ZEPHYR.replace(
    "{% generation %}{{ message['content'] + eos_token }}{% endgeneration %}",
    "{% generation %}{{ message['content'] }}{% endgeneration %}{{ eos_token }}",
)
NO_MARKERS = ZEPHYR.replace("{% generation %}", "").replace("{% endgeneration %}", "")
WITH_BOS = "{{ bos_token }}" + ZEPHYR
TWO_BOS = "{{ bos_token + bos_token }}" + ZEPHYR
# The generation prompt alone ends with a blank line that the rendered conversation does not have.
SHIFTED_BOUNDARY = ZEPHYR.replace(
    "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\\n' }}",
    "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\\n\\n' }}",
)
RAISES_ON_TOOL = (
    "{% for message in messages %}{% if message['role'] == 'tool' %}"
    "{{ raise_exception('tool turns are not supported') }}{% endif %}{% endfor %}" + ZEPHYR
)
assert len({ZEPHYR, NO_EOS, EOS_OUTSIDE_GENERATION, NO_MARKERS, SHIFTED_BOUNDARY}) == 5  # every replace applied


def turns(*contents: str, roles: tuple[str, ...] = ()) -> list[dict[str, str]]:
    roles = roles or tuple("user" if i % 2 == 0 else "assistant" for i in range(len(contents)))
    return [{"content": c, "role": r} for c, r in zip(contents, roles, strict=True)]


def pair(question: str, good: str, bad: str, **overrides: Any) -> dict[str, Any]:
    """A preference row like binarize writes; ``overrides`` replace its columns."""
    row = {
        "prompt": question,
        "prompt_id": f"id-{question[:8]}",
        "chosen": turns(question, good),
        "rejected": turns(question, bad),
    }
    return {**row, **overrides}


CLEAN_SFT = [
    {"prompt_id": "a", "messages": turns("How do plants make food?", "By photosynthesis.")},
    {"prompt_id": "b", "messages": turns("And at night?", "They respire.", "Why?", "No light.")},
    {"prompt_id": "c", "messages": turns("Hello", "Hi there.", "Bye")},  # ends with a user turn, as UltraChat can
]
CLEAN_PAIRS = [
    pair("How do plants make food?", "By photosynthesis.", "They eat soil."),
    pair("What is the capital of France?", "Paris.", "Lyon, I think."),
]


def write_folder(folder: Path, splits: dict[str, list[dict[str, Any]]]) -> Path:
    """A folder in the Hub layout of this toolkit's outputs."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        pq.write_table(pa.Table.from_pylist(rows), folder / "data" / f"{split}-00000-of-00001.parquet")
    return folder


def make_tokenizer(
    folder: Path, template: str | None, *, adds_bos: bool = False, adds_eos: bool = False, max_len: int | None = None
) -> Path:
    """A small byte-level BPE tokenizer (the trainer's smoke tokenizer) with a chosen post-processor and template."""
    from tokenizers import processors

    from distill_data.train.model import train_tokenizer

    texts = [json.loads(line)["data"][0] for line in BUNDLED_SAMPLE.read_text(encoding="utf-8").splitlines()[:60]]
    tokenizer = train_tokenizer(texts, 600)
    if adds_bos or adds_eos:
        single = ("<s> " if adds_bos else "") + "$A" + (" </s>" if adds_eos else "")
        tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
            single=single, special_tokens=[("<s>", tokenizer.bos_token_id), ("</s>", tokenizer.eos_token_id)]
        )
    tokenizer.chat_template = template
    if max_len is not None:
        tokenizer.model_max_length = max_len
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tokenizers")
    variants: dict[str, tuple[str | None, dict[str, Any]]] = {
        "clean": (ZEPHYR, {}),
        "clean_adds_bos": (ZEPHYR, {"adds_bos": True}),  # the tokenizer adds BOS, the template does not
        "template_bos": (WITH_BOS, {}),  # the template writes BOS, the tokenizer does not
        "bos_twice": (WITH_BOS, {"adds_bos": True}),
        "template_bos_twice": (TWO_BOS, {}),
        "eos_twice": (ZEPHYR, {"adds_eos": True}),
        "no_eos": (NO_EOS, {}),
        "no_eos_adds_eos": (NO_EOS, {"adds_eos": True}),  # TRL does not add it: still missing
        "eos_outside_generation": (EOS_OUTSIDE_GENERATION, {}),
        "no_markers": (NO_MARKERS, {}),
        "shifted_boundary": (SHIFTED_BOUNDARY, {}),
        "raises_on_tool": (RAISES_ON_TOOL, {}),
        "no_template": (None, {}),
        "max_16": (ZEPHYR, {"max_len": 16}),
    }
    return {name: make_tokenizer(root / name, t, **kw) for name, (t, kw) in variants.items()}


@pytest.fixture(scope="module")
def clean_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_folder(
        tmp_path_factory.mktemp("clean"),
        {"train_sft": CLEAN_SFT, "train_prefs": CLEAN_PAIRS, "train_gen": [{"messages": turns("Hello")}]},
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both kinds of output folder, built by the toolkit from the bundled samples."""
    work = tmp_path_factory.mktemp("built")
    sft = load_recipe(REPO / "recipes" / "ultrachat_200k.yaml")
    sft.inputs = [str(BUNDLED_SAMPLE)]
    sft.split.max_samples = 40
    dpo = load_recipe(REPO / "recipes" / "ultrafeedback_binarized.yaml")
    dpo.inputs = [str(REPO / "distill_data" / "samples" / "ultrafeedback_sample.jsonl")]
    dpo.split.max_samples = 40
    dpo.split.test_size = 0.1
    return {
        "sft": build(sft, work / "ultrachat", progress=False, num_proc=1).output,
        "dpo": build(dpo, work / "ultrafeedback", progress=False, num_proc=1).output,
    }


def run_check(tmp_path: Path, source: Path | str, tokenizer: Path, *args: str) -> tuple[int, str, dict[str, Any]]:
    """The CLI's exit code, output and --json report (empty when none was written)."""
    report_file = tmp_path / "report.json"
    report_file.unlink(missing_ok=True)
    argv = ["check", str(source), "--tokenizer", str(tokenizer), "--no-progress", "--json", str(report_file), *args]
    result = CliRunner().invoke(cli, argv)
    output = result.output + (
        f"\n{result.exception!r}" if result.exception and result.exit_code not in (0, 1, 2) else ""
    )
    report = json.loads(report_file.read_text(encoding="utf-8")) if report_file.exists() else {}
    return result.exit_code, output, report


def problems(report: dict[str, Any], split: str) -> dict[str, dict[str, Any]]:
    return report["splits"][split]["problems"]


def rows_with(report: dict[str, Any], split: str, kind: str) -> list[int]:
    return [e["row"] for e in problems(report, split).get(kind, {"examples": []})["examples"]]


# --- clean data and tokenizers: no problem ---


def test_clean_tokenizer_and_dataset_pass(tmp_path: Path, clean_data: Path, tokenizers: dict[str, Path]) -> None:
    code, output, report = run_check(tmp_path, clean_data, tokenizers["clean"], "--assistant-only-loss")
    assert code == 0, output
    assert report["ok"] is True and report["blocking"] == {} and report["template_problems"] == {}
    for split, kind, rows in (
        ("train_sft", "sft", 3),
        ("train_prefs", "preference", 2),
        ("train_gen", "generation", 1),
    ):
        assert report["splits"][split]["kind"] == kind
        assert report["splits"][split]["rows"] == report["splits"][split]["checked"] == rows
        assert report["splits"][split]["problems"] == {}
        assert report["splits"][split]["lengths"]["max"] > 0
    assert "no blocking problems" in output
    # One BOS from the tokenizer alone, or from the template alone, is right.
    for name in ("clean_adds_bos", "template_bos"):
        code, output, report = run_check(tmp_path, clean_data, tokenizers[name])
        assert code == 0 and report["blocking"] == {}, (name, output)


def test_built_outputs_pass_with_the_trainers_template(
    tmp_path: Path, built: dict[str, Path], tokenizers: dict[str, Path]
) -> None:
    for kind, folder in built.items():
        code, output, report = run_check(
            tmp_path, folder, tokenizers["no_template"], "--chat-template", "zephyr", "--assistant-only-loss"
        )
        assert code == 0, output
        assert report["blocking"] == {}
        assert report["chat_template"] == "zephyr"
        expected = {p.name.split("-")[0] for p in (folder / "data").glob("*.parquet")}
        assert set(report["splits"]) == expected
        for name, split in report["splits"].items():
            assert set(split["problems"]) <= {"over_max_length"}, (kind, name, split["problems"])
            assert (
                split["checked"]
                == split["rows"]
                == pq.read_metadata(next((folder / "data").glob(f"{name}-*"))).num_rows
            )
        kinds = {name: split["kind"] for name, split in report["splits"].items()}
        assert kinds["train_sft"] == "sft" and kinds["train_gen"] == "generation"
        if kind == "dpo":
            assert kinds["train_prefs"] == kinds["test_prefs"] == "preference"


# --- each defect fires ---


def test_doubled_bos_template_and_tokenizer(tmp_path: Path, clean_data: Path, tokenizers: dict[str, Path]) -> None:
    code, output, report = run_check(tmp_path, clean_data, tokenizers["bos_twice"])
    assert code == 1
    for split, rows in (("train_sft", 3), ("train_prefs", 2), ("train_gen", 1)):
        tally = problems(report, split)["doubled_bos"]
        assert tally["count"] == rows and tally["blocking"] is True
    assert "tokenizer adds another" in problems(report, "train_sft")["doubled_bos"]["examples"][0]["detail"]
    assert report["tokenizer_facts"]["tokenizer_adds_bos"] is True
    assert report["blocking"] == {"doubled_bos": 6}
    assert "doubled_bos" in output and "blocking problems" in output


def test_doubled_bos_in_the_rendered_ids(tmp_path: Path, clean_data: Path, tokenizers: dict[str, Path]) -> None:
    code, _, report = run_check(tmp_path, clean_data, tokenizers["template_bos_twice"])
    assert code == 1
    detail = problems(report, "train_prefs")["doubled_bos"]["examples"][0]["detail"]
    assert detail == "chosen: the rendered conversation starts with <s><s>"


def test_doubled_eos_tokenizer_appends_to_template_eos(
    tmp_path: Path, clean_data: Path, tokenizers: dict[str, Path]
) -> None:
    code, _, report = run_check(tmp_path, clean_data, tokenizers["eos_twice"])
    assert code == 1
    assert problems(report, "train_sft")["doubled_eos"]["count"] == 3
    assert problems(report, "train_prefs")["doubled_eos"]["count"] == 2
    assert "doubled_eos" not in problems(report, "train_gen")  # a generation prompt has no response
    assert "tokenizer appends </s>" in problems(report, "train_sft")["doubled_eos"]["examples"][0]["detail"]


def test_doubled_eos_from_a_response_that_ends_with_eos_text(tmp_path: Path, tokenizers: dict[str, Path]) -> None:
    rows = [*CLEAN_SFT, {"prompt_id": "d", "messages": turns("Say bye", "Bye.</s>")}]
    folder = write_folder(tmp_path / "data", {"train_sft": rows})
    code, _, report = run_check(tmp_path, folder, tokenizers["clean"])
    assert code == 1
    tally = problems(report, "train_sft")["doubled_eos"]
    assert tally["count"] == 1
    assert tally["examples"] == [{"row": 3, "id": "d", "detail": "the assistant turn ends with '</s></s>\\n'"}]


def test_missing_eos(tmp_path: Path, clean_data: Path, tokenizers: dict[str, Path]) -> None:
    for name in ("no_eos", "no_eos_adds_eos"):
        code, _, report = run_check(tmp_path, clean_data, tokenizers[name])
        assert code == 1, name
        assert problems(report, "train_sft")["missing_eos"]["count"] == 3
        assert problems(report, "train_prefs")["missing_eos"]["count"] == 2
        assert "doubled_eos" not in problems(report, "train_sft")
    # Row 2 ends with a user turn (closed by </s>): the check looks at the end of its last assistant turn.
    assert 2 in rows_with(report, "train_sft", "missing_eos")
    assert "no end-of-turn token" in problems(report, "train_prefs")["missing_eos"]["examples"][0]["detail"]


def test_eos_outside_the_generation_block(tmp_path: Path, clean_data: Path, tokenizers: dict[str, Path]) -> None:
    code, _, report = run_check(tmp_path, clean_data, tokenizers["eos_outside_generation"], "--assistant-only-loss")
    assert code == 1
    tally = problems(report, "train_sft")["missing_eos"]
    assert tally["count"] == 3 and "outside {% generation %}" in tally["examples"][0]["detail"]
    # Without assistant-only loss the model sees the EOS in its loss: fine.
    code, _, report = run_check(tmp_path, clean_data, tokenizers["eos_outside_generation"])
    assert code == 0 and report["blocking"] == {}


def test_missing_generation_markers(tmp_path: Path, clean_data: Path, tokenizers: dict[str, Path]) -> None:
    code, output, report = run_check(tmp_path, clean_data, tokenizers["no_markers"], "--assistant-only-loss")
    assert code == 1
    assert report["template_problems"]["missing_generation_markers"]["blocking"] is True
    assert report["blocking"] == {"missing_generation_markers": 1}
    assert "no {% generation %} markers" in output
    assert report["tokenizer_facts"]["generation_markers"] is False
    code, _, report = run_check(tmp_path, clean_data, tokenizers["no_markers"])
    assert code == 0 and report["template_problems"] == {}


def test_rows_with_nothing_to_learn_under_assistant_only_loss(tmp_path: Path, tokenizers: dict[str, Path]) -> None:
    # With the generation block around the content only, an empty response leaves no assistant token: TRL stops.
    rows = [
        *CLEAN_SFT,
        {"messages": turns("Hi", "Hello.", roles=("user", "model"))},
        {"messages": turns("Hi", "")},
    ]
    folder = write_folder(tmp_path / "data", {"train_sft": rows})
    code, _, report = run_check(tmp_path, folder, tokenizers["no_eos"], "--assistant-only-loss")
    assert code == 1
    assert rows_with(report, "train_sft", "empty_response") == [3, 4]
    assert problems(report, "train_sft")["empty_response"]["examples"][0]["detail"] == "no assistant turn"
    assert rows_with(report, "train_sft", "missing_generation_markers") == [4]
    code, _, report = run_check(tmp_path, folder, tokenizers["clean"], "--assistant-only-loss")
    assert "missing_generation_markers" not in problems(report, "train_sft")  # the EOS is inside the block


def test_prompt_mismatch_in_the_data(tmp_path: Path, tokenizers: dict[str, Path]) -> None:
    rows = [
        *CLEAN_PAIRS,
        pair("Name a color.", "Blue.", "Red.", rejected=turns("Name a colour.", "Red.")),
        pair("Name a fruit.", "Apple.", "Rock.", prompt="Name a vegetable."),
        pair("Count to two.", "1, 2.", "2.", rejected=turns("Count to two.", "1.", "Again.", "2.")),
    ]
    folder = write_folder(tmp_path / "data", {"train_prefs": rows})
    code, _, report = run_check(tmp_path, folder, tokenizers["clean"])
    assert code == 1
    tally = problems(report, "train_prefs")["prompt_mismatch"]
    assert tally["count"] == 3 and rows_with(report, "train_prefs", "prompt_mismatch") == [2, 3, 4]
    details = [e["detail"] for e in tally["examples"]]
    assert details[0].startswith("chosen and rejected differ at turn 1")
    assert details[1] == "the prompt column 'Name a vegetable.' is not chosen's first user turn"
    assert details[2].startswith("chosen and rejected differ at turn 2")
    assert report["blocking"] == {"prompt_mismatch": 3}


def test_prompt_mismatch_at_the_token_boundary(tmp_path: Path, clean_data: Path, tokenizers: dict[str, Path]) -> None:
    code, _, report = run_check(tmp_path, clean_data, tokenizers["shifted_boundary"])
    assert code == 1
    tally = problems(report, "train_prefs")["prompt_mismatch"]
    assert tally["count"] == 2
    assert tally["examples"][0]["detail"].startswith("the rendered prompt is not the start of prompt + chosen")
    assert "prompt_mismatch" not in problems(report, "train_sft")  # SFT has no prompt/completion split


def test_empty_responses(tmp_path: Path, tokenizers: dict[str, Path]) -> None:
    folder = write_folder(
        tmp_path / "data",
        {
            "train_sft": [*CLEAN_SFT, {"messages": turns("Hi", " \n ", "Well?", "Fine.")}],
            "train_prefs": [
                *CLEAN_PAIRS,
                pair("Why?", "Because.", ""),
                pair("Who?", "Me.", "You.", chosen=turns("Who?")),
            ],
        },
    )
    code, _, report = run_check(tmp_path, folder, tokenizers["clean"])
    assert code == 1
    assert problems(report, "train_sft")["empty_response"]["examples"] == [
        {"row": 3, "id": None, "detail": "turn 2 (assistant) is ' \\n '"}
    ]
    assert rows_with(report, "train_prefs", "empty_response") == [2, 3]
    details = [e["detail"] for e in problems(report, "train_prefs")["empty_response"]["examples"]]
    assert details == ["rejected: turn 2 (assistant) is ''", "chosen does not end with an assistant turn"]


def test_render_errors_are_blocking_and_the_other_rows_are_checked(tmp_path: Path, tokenizers: dict[str, Path]) -> None:
    rows = [
        *CLEAN_SFT,
        {"messages": turns("Look up x", "{}", "Done?", "Yes.", roles=("user", "tool", "user", "assistant"))},
    ]
    folder = write_folder(tmp_path / "data", {"train_sft": rows})
    code, _, report = run_check(tmp_path, folder, tokenizers["raises_on_tool"])
    assert code == 1
    tally = problems(report, "train_sft")["render_error"]
    assert tally["count"] == 1 and tally["examples"][0]["row"] == 3
    assert "tool turns are not supported" in tally["examples"][0]["detail"]
    assert report["splits"]["train_sft"]["checked"] == 4
    assert set(problems(report, "train_sft")) == {"render_error"}


def test_rows_over_max_length_warn_and_block_with_strict(
    tmp_path: Path, clean_data: Path, tokenizers: dict[str, Path]
) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizers["clean"])
    lengths = [len(tokenizer.apply_chat_template(r["messages"], return_dict=True)["input_ids"]) for r in CLEAN_SFT]
    limit = sorted(lengths)[1]  # one row above it
    code, output, report = run_check(tmp_path, clean_data, tokenizers["clean"], "--max-length", str(limit))
    assert code == 0, output
    split = report["splits"]["train_sft"]
    assert split["over_max_length"] == 1
    assert split["problems"]["over_max_length"]["blocking"] is False
    assert split["problems"]["over_max_length"]["examples"][0]["row"] == lengths.index(max(lengths))
    percentiles = {f"p{q}": int(np.percentile(lengths, q, method="inverted_cdf")) for q in (50, 90, 99)}
    assert split["lengths"] == {**percentiles, "max": max(lengths)}
    assert "over_max_length" in output and "warning" in output
    code, _, report = run_check(tmp_path, clean_data, tokenizers["clean"], "--max-length", str(limit), "--strict")
    assert code == 1 and report["blocking"]["over_max_length"] >= 1
    # A DPO prompt that alone fills max_length: DPOTrainer drops the row.
    code, _, report = run_check(tmp_path, clean_data, tokenizers["clean"], "--max-length", "5")
    assert code == 0
    assert problems(report, "train_prefs")["prompt_over_max_length"]["count"] == 2


def test_default_max_length(tmp_path: Path, clean_data: Path, tokenizers: dict[str, Path]) -> None:
    _, _, report = run_check(tmp_path, clean_data, tokenizers["max_16"])
    assert report["max_length"] == 16 and report["splits"]["train_sft"]["over_max_length"] >= 1
    _, _, report = run_check(tmp_path, clean_data, tokenizers["clean"])  # model_max_length unset (1e30)
    assert report["max_length"] == 2048


def test_allow_reports_a_blocking_kind_as_a_warning(
    tmp_path: Path, clean_data: Path, tokenizers: dict[str, Path]
) -> None:
    code, output, report = run_check(tmp_path, clean_data, tokenizers["bos_twice"], "--allow", "doubled_bos")
    assert code == 0, output
    assert problems(report, "train_sft")["doubled_bos"]["blocking"] is False
    assert report["blocking"] == {}


# --- options, inputs and errors ---


def test_sample_is_seeded(tmp_path: Path, tokenizers: dict[str, Path]) -> None:
    rows = [{"prompt_id": f"r{i}", "messages": turns(f"Question {i}?", "")} for i in range(30)]
    folder = write_folder(tmp_path / "data", {"train_sft": rows})

    def sampled(*args: str) -> list[int]:
        code, _, report = run_check(tmp_path, folder, tokenizers["clean"], *args)
        assert code == 1 and report["splits"]["train_sft"]["checked"] == 5
        assert report["splits"]["train_sft"]["rows"] == 30
        return rows_with(report, "train_sft", "empty_response")

    first = sampled("--sample", "5")
    assert len(first) == 5 and first == sorted(first)
    assert sampled("--sample", "5") == first
    assert sampled("--sample", "5", "--seed", "7") != first
    _, _, report = run_check(tmp_path, folder, tokenizers["clean"], "--sample", "100")
    assert report["splits"]["train_sft"]["checked"] == 30


def test_split_option_and_single_files(tmp_path: Path, clean_data: Path, tokenizers: dict[str, Path]) -> None:
    code, _, report = run_check(tmp_path, clean_data, tokenizers["clean"], "--split", "train_prefs")
    assert code == 0 and list(report["splits"]) == ["train_prefs"]
    jsonl = tmp_path / "pairs.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in [*CLEAN_PAIRS, pair("Hm?", "Yes.", " ")]), encoding="utf-8")
    code, _, report = run_check(tmp_path, jsonl, tokenizers["clean"])
    assert code == 1 and report["splits"]["pairs"]["kind"] == "preference"
    assert rows_with(report, "pairs", "empty_response") == [2]
    as_json = tmp_path / "train_sft-00000-of-00001.json"
    as_json.write_text(json.dumps(CLEAN_SFT), encoding="utf-8")
    code, _, report = run_check(tmp_path, as_json, tokenizers["clean"])
    assert code == 0 and report["splits"]["train_sft"]["rows"] == 3


def test_usage_errors_exit_2(tmp_path: Path, clean_data: Path, tokenizers: dict[str, Path]) -> None:
    cases = [
        (clean_data, tokenizers["no_template"], (), "has no chat template: pass --chat-template zephyr"),
        (tmp_path / "missing", tokenizers["clean"], (), "no such file or folder"),
        (
            write_folder(tmp_path / "empty", {}),
            tokenizers["clean"],
            (),
            "no .jsonl, .json, .parquet (JSON also compressed: .gz, .bz2, .xz, .zst) files",
        ),
        (
            write_folder(tmp_path / "odd", {"train": [{"text": "hi"}]}),
            tokenizers["clean"],
            (),
            "needs a 'messages' column (SFT) or 'chosen' and 'rejected' columns (preference pairs); columns: text",
        ),
        (clean_data, tokenizers["clean"], ("--split", "test_sft"), "no split test_sft"),
        (clean_data, tmp_path / "no-tokenizer", (), "no-tokenizer: no such folder (and not a Hub id)"),
        (clean_data, clean_data, (), "cannot load a tokenizer"),
        (clean_data, tokenizers["clean"], ("--chat-template", "chatml"), "neither a template name"),
    ]
    for source, tokenizer, args, message in cases:
        code, output, report = run_check(tmp_path, source, tokenizer, *args)
        assert code == 2, (message, output)
        assert message in " ".join(output.split()), output
        assert report == {}


def test_chat_template_from_a_file(tmp_path: Path, clean_data: Path, tokenizers: dict[str, Path]) -> None:
    template = tmp_path / "no_eos.jinja"
    template.write_text(NO_EOS, encoding="utf-8")
    code, _, report = run_check(tmp_path, clean_data, tokenizers["clean"], "--chat-template", str(template))
    assert code == 1 and "missing_eos" in problems(report, "train_sft")


# --- the Python API and fidelity to TRL ---


def test_python_api_with_a_tokenizer_object(clean_data: Path, tokenizers: dict[str, Path]) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizers["no_markers"])
    report = check_dataset(clean_data, tokenizer, assistant_only_loss=True)
    assert isinstance(report, CheckReport) and report.blocking
    assert report.blocking_counts() == {"missing_generation_markers": 1}
    report = check_dataset(clean_data, tokenizer, chat_template="zephyr", assistant_only_loss=True)
    assert not report.blocking and tokenizer.chat_template == NO_MARKERS  # the tokenizer is left as it was
    assert json.loads(json.dumps(report.to_dict()))["ok"] is True
    with pytest.raises(ConfigError, match="unknown problem kind"):
        check_dataset(clean_data, tokenizer, allow=["typo"])


def _in_memory(folder: Path, split: str, columns: list[str]) -> Any:
    import datasets

    table = pq.read_table(next((folder / "data").glob(f"{split}-*.parquet")), columns=columns)
    return datasets.Dataset.from_list(table.to_pylist())


def test_lengths_are_what_trls_trainers_tokenize(
    tmp_path: Path, built: dict[str, Path], tokenizers: dict[str, Path]
) -> None:
    """The reported lengths equal those of TRL's own dataset preparation (SFTTrainer and DPOTrainer)."""
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(tokenizers["clean"])
    report = check_dataset(built["dpo"], tokenizer, splits=["test_prefs"])
    pairs = _in_memory(built["dpo"], "test_prefs", ["chosen", "rejected"])
    config = DPOConfig(output_dir=str(tmp_path), max_length=None, report_to="none", use_cpu=True, bf16=False)
    owner = SimpleNamespace(_tokenizer=tokenizer)
    tokenized = DPOTrainer._prepare_dataset(owner, pairs, tokenizer, config, "t")
    expected = [len(r["prompt_ids"]) + max(len(r["chosen_ids"]), len(r["rejected_ids"])) for r in tokenized]
    assert report.splits[0].lengths == expected

    report = check_dataset(built["sft"], tokenizer, splits=["test_sft"], assistant_only_loss=True)
    rows = _in_memory(built["sft"], "test_sft", ["messages"])
    config = SFTConfig(
        output_dir=str(tmp_path),
        max_length=None,
        assistant_only_loss=True,
        report_to="none",
        use_cpu=True,
        bf16=False,
        shuffle_dataset=False,
    )
    owner = SimpleNamespace(_tokenizer=tokenizer, chat_template=None, completion_only_loss=False)
    tokenized = SFTTrainer._prepare_dataset(owner, rows, tokenizer, config, False, None, "t")
    assert report.splits[0].lengths == [len(r["input_ids"]) for r in tokenized]
    assert not report.blocking


def test_hub_dataset_and_tokenizer_ids(tmp_path: Path, built: dict[str, Path], tokenizers: dict[str, Path]) -> None:
    """A Hub dataset id and a Hub tokenizer id give the same report as the local folders."""
    root = tmp_path / "hub"
    shutil.copytree(built["dpo"], root / "tester" / "prefs")
    shutil.copytree(tokenizers["no_template"], root / ".models" / "tester" / "tok")
    server, url, log = serve(root)
    try:
        env = dict(os.environ, HF_ENDPOINT=url, HF_HUB_DISABLE_XET="1", HF_HOME=str(tmp_path / "hf_home"))
        env.pop("HF_TOKEN", None)
        report_file = tmp_path / "hub.json"
        command = [sys.executable, "-m", "distill_data.cli", "check", "tester/prefs", "--tokenizer", "tester/tok"]
        options = ["--chat-template", "zephyr", "--split", "train_sft", "--no-progress", "--json", str(report_file)]
        result = subprocess.run(command + options, env=env, capture_output=True, text=True, timeout=300)
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    assert any("/datasets/tester/prefs/resolve/" in line for line in log)
    assert any("/tester/tok/resolve/" in line and "/datasets/" not in line for line in log)
    from_hub = json.loads(report_file.read_text(encoding="utf-8"))
    _, _, local = run_check(tmp_path, built["dpo"], tokenizers["no_template"], *options[:4])
    assert from_hub["splits"] == local["splits"] and from_hub["splits"]["train_sft"]["checked"] > 0
