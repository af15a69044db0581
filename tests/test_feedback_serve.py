"""generate -> rate -> binarize -> DPO through a real OpenAI-compatible server: `transformers serve` (offline).

The models are built here, nothing is downloaded: two tiny random Mistral-architecture generators (they write
noise, as a random model does) and a tiny judge whose weights are set by hand so that it is a bigram model: each
token predicts one next token, and whatever the prompt, greedy decoding walks the same chain of tokens, which spell
an answer in the judge format. The random models also serve as a judge once, to show that noise from a judge ends
in "N/A" ratings with the raw answers kept, not in a crash.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import REPO, write_jsonl

from distill_data.cli import cli
from distill_data.train.metrics import read_metrics

JUDGE_REPLY = (
    "#### Output for Text 1\n",
    "Rating: 4\n",
    "Rationale: Clear and correct.\n\n",
    "#### Output for Text 2\n",
    "Rating: 2\n",
    "Rationale: Vague.",
)
PROMPTS = [{"instruction": f"Question {n}: why is the sky blue at noon?", "source": "test"} for n in range(6)]
DATA = "data/train-00000-of-00001.parquet"


def invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output + (f"\n{result.exception!r}" if result.exception else "")


def build_models(root: Path) -> dict[str, Path]:
    """gen-a, gen-b: random, sampling; judge: the hand-set bigram model that always answers ``JUDGE_REPLY``."""
    import torch
    from tokenizers import AddedToken
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

    from distill_data.train.chat_template import resolve
    from distill_data.train.model import train_tokenizer

    def tokenizer(extra: tuple[str, ...] = ()):
        built = train_tokenizer([p["instruction"] for p in PROMPTS] * 4, 300)
        built.add_tokens([AddedToken(text, normalized=False, special=False) for text in extra])
        built.chat_template = resolve("zephyr")
        return built

    def model(tok, hidden: int, seed: int, sample: bool):
        config = AutoConfig.for_model(
            "mistral", vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id, hidden_size=hidden, intermediate_size=32, num_hidden_layers=1,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192, sliding_window=None,
            tie_word_embeddings=False,
        )  # fmt: skip
        torch.manual_seed(seed)
        built = AutoModelForCausalLM.from_config(config)
        # A random model may sample its end token first; ``min_new_tokens`` (the server's `generate` starts from
        # the model's generation config) keeps every sampled response non-empty, whatever the tokenizer's ids.
        sampling = {"do_sample": True, "top_k": 0, "min_new_tokens": 2} if sample else {"do_sample": False}
        built.generation_config = GenerationConfig(
            **sampling, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id
        )
        return built

    paths = {name: root / name for name in ("gen-a", "gen-b", "judge")}
    plain = tokenizer()
    for seed, name in enumerate(("gen-a", "gen-b")):
        model(plain, 64, seed, True).save_pretrained(paths[name])
        plain.save_pretrained(paths[name])

    tok = tokenizer(JUDGE_REPLY)
    size = len(tok)
    judge = model(tok, (size + 15) // 16 * 16, 0, False)  # hidden >= vocabulary: one-hot embeddings fit
    chain = [tok.convert_tokens_to_ids(text) for text in JUDGE_REPLY]
    successor = dict(zip(chain, [*chain[1:], tok.eos_token_id], strict=True))
    with torch.no_grad():
        for parameter in judge.parameters():
            parameter.zero_()  # attention and MLP outputs 0: the residual stream is the token's embedding
        judge.model.embed_tokens.weight[torch.arange(size), torch.arange(size)] = 1.0
        for norm in (
            judge.model.norm,
            *(n for layer in judge.model.layers for n in (layer.input_layernorm, layer.post_attention_layernorm)),
        ):
            norm.weight.fill_(1.0)
        for token in range(size):
            judge.lm_head.weight[successor.get(token, chain[0]), token] = 10.0
    judge.save_pretrained(paths["judge"])
    tok.save_pretrained(paths["judge"])
    return paths


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="module")
def served(models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    """`transformers serve` on a free local port, loading the models on demand by path; its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path_factory.mktemp("serve") / "serve.log").open("w")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    command = [str(Path(sys.executable).parent / "transformers"), "serve", "--host", "127.0.0.1",
               "--port", str(port), "--device", "cpu", "--dtype", "float32"]  # fmt: skip
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, Path(log.name).read_text()
            assert time.monotonic() < deadline, "transformers serve did not start: " + Path(log.name).read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.25)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_generate_rate_binarize_dpo_through_transformers_serve(
    models: dict[str, Path], served: str, tmp_path: Path
) -> None:
    prompts = write_jsonl(tmp_path / "prompts.jsonl", PROMPTS)
    generators = [f"{models['gen-a']}@{served}", f"{models['gen-b']}@{served}"]
    for name, extra in (("gen", ()), ("gen-again", ("--no-cache",))):
        code, output = invoke("generate", "-p", prompts, "-m", generators[0], "-m", generators[1], "--max-tokens",
                              "12", "--seed", "1", "--concurrency", "1", "-o", tmp_path / name, "--no-progress",
                              *extra)  # fmt: skip
        assert code == 0, output
    generated = pq.read_table(tmp_path / "gen" / DATA).to_pylist()
    assert len(generated) == 6 and all(
        row["models"] == [str(models["gen-a"]), str(models["gen-b"])] for row in generated
    )
    responses = [c["response"] for row in generated for c in row["completions"]]
    assert all(responses) and len(set(responses)) == len(responses)  # seeded sampling: a new seed per request
    # The server honours the seed (one request at a time: it seeds torch's global generator per request, so
    # concurrent requests race): the same requests, sent again without the cache, give the same bytes.
    assert (tmp_path / "gen" / DATA).read_bytes() == (tmp_path / "gen-again" / DATA).read_bytes()
    usage = json.loads((tmp_path / "gen" / "provenance.json").read_text())["usage"]
    assert all(u["requests"] == 6 and 0 < u["tokens_out"] <= 6 * 12 and u["tokens_in"] > 0 for u in usage.values())

    # A random model as judge writes noise: re-asked once, then N/A with both raw answers kept.
    code, output = invoke("rate", "-i", tmp_path / "gen", "--judge", f"{models['gen-a']}@{served}", "--aspects",
                          "helpfulness", "--parse-retries", "1", "--max-tokens", "8", "-o", tmp_path / "noise",
                          "--no-progress")  # fmt: skip
    assert code == 0, output
    noise = pq.read_table(tmp_path / "noise" / DATA).to_pylist()
    for row in noise:
        assert {c["annotations"]["helpfulness"]["Rating"] for c in row["completions"]} == {"N/A"}
        assert all(c["fine-grained_score"] is None for c in row["completions"])
        (failure,) = row["rating_failures"]
        assert failure["attempts"] == 2 and len(failure["replies"]) == 2 and all(failure["replies"])
    parse = json.loads((tmp_path / "noise" / "provenance.json").read_text())["parse"]["helpfulness"]
    assert parse == {"asked": 6, "retried": 6, "failed": 6, "unrated": 12}

    code, output = invoke("rate", "-i", tmp_path / "gen", "--judge", f"{models['judge']}@{served}", "--max-tokens",
                          "16", "-o", tmp_path / "rated", "--no-progress")  # fmt: skip
    assert code == 0, output
    for row in pq.read_table(tmp_path / "rated" / DATA).to_pylist():
        first, second = row["completions"]
        assert {a["Rating"] for a in first["annotations"].values()} == {"4"}
        assert {a["Rationale"] for a in first["annotations"].values()} == {"Clear and correct."}
        assert {a["Rating"] for a in second["annotations"].values()} == {"2"}
        assert (first["fine-grained_score"], second["fine-grained_score"], row["rating_failures"]) == (4.0, 2.0, [])

    code, output = invoke("binarize", "-i", tmp_path / "rated", "-o", tmp_path / "pairs", "--test-size", "1",
                          "--no-progress")  # fmt: skip
    assert code == 0, output
    pairs = pq.read_table(next((tmp_path / "pairs" / "data").glob("train_prefs-*.parquet"))).to_pylist()
    assert len(pairs) == 5
    assert {(p["chosen_model"], p["rejected_model"], p["score_chosen"], p["score_rejected"]) for p in pairs} == {
        (str(models["gen-a"]), str(models["gen-b"]), 4.0, 2.0)
    }
    card = (tmp_path / "pairs" / "README.md").read_text()
    assert f"completions by `{models['gen-a']}`, `{models['gen-b']}`; rated by `{models['judge']}`" in card

    code, output = invoke(
        "train", "dpo", "--recipe", REPO / "recipes" / "smoke" / "dpo.yaml",
        "--set", f"model.name_or_path={models['gen-a']}", "--set", f"datasets.0.path={tmp_path / 'pairs'}",
        "--set", f"training.output_dir={tmp_path / 'dpo'}", "--set", "training.max_steps=2",
        "--set", "training.max_length=128", "--set", "training.logging_steps=1",
    )  # fmt: skip
    assert code == 0, output
    losses = [m["loss"] for m in read_metrics(tmp_path / "dpo" / "metrics.jsonl") if "loss" in m]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
