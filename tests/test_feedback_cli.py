"""`distill-data generate` and `distill-data rate` against a scripted local OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import REPO, write_jsonl
from feedback_server import Body, Reply, ScriptedServer, default_reply, is_judge, judged_texts, rating_of

from distill_data.cli import cli
from distill_data.feedback.cache import request_key
from distill_data.feedback.lineage import feedback_summary
from distill_data.feedback.principles import PRINCIPLES

PROMPTS = [
    {"instruction": "Why is the sky blue?", "source": "evol_instruct"},
    {"instruction": "Name three prime numbers.", "source": "flan"},
    {"instruction": "Write a haiku about rain."},
    {"instruction": "What is 17 * 3?", "source": "flan"},
    {"instruction": "Explain recursion to a child.", "source": "sharegpt"},
]
DATA = "data/train-00000-of-00001.parquet"
QUIET = ("--no-progress", "--backoff", "0.01")


def invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output + (f"\n{result.exception!r}" if result.exception else "")


def rows(folder: Path) -> list[dict]:
    return pq.read_table(folder / DATA).to_pylist()


def provenance(folder: Path) -> dict:
    return json.loads((folder / "provenance.json").read_text())


def aspect_of(body: Body) -> str:
    content = body["messages"][1]["content"]
    return next(a for a in ("helpfulness", "honesty", "instruction following", "truthfulness") if f"**{a}**" in content)


@pytest.fixture
def server():
    with ScriptedServer() as scripted:
        yield scripted


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "my_prompts.jsonl", PROMPTS)


def test_generate_rate_binarize(server: ScriptedServer, prompts: Path, tmp_path: Path) -> None:
    server.script([Reply(status=429, headers={"Retry-After": "0"})], when=lambda body: not is_judge(body))
    server.script([Reply(status=500)], when=is_judge)
    code, output = invoke(
        "generate", "-p", prompts, "-m", f"alpha@{server.url}", "-m", f"beta@{server.url}", "--n-per-model", "2",
        "--principles", "helpfulness=2,honesty,verbalized_calibration", "--max-tokens", "64",
        "--price", "alpha=1/2", "-o", tmp_path / "gen", *QUIET,
    )  # fmt: skip
    assert code == 0, output
    assert "alpha" in output and "cost (USD)" in output and "wrote" in output and "5 rows" in output
    generated = rows(tmp_path / "gen")
    assert [row["instruction"] for row in generated] == [p["instruction"] for p in PROMPTS]  # input order
    assert [row["source"] for row in generated] == ["evol_instruct", "flan", "my_prompts", "flan", "sharegpt"]
    sent = [body for body in server.bodies if not is_judge(body)]
    assert len(sent) == 5 * 4 + 1  # 2 models x 2 samples per prompt, and one 429
    for row in generated:
        assert row["models"] == ["alpha", "alpha", "beta", "beta"]
        seeds = set()
        for completion in row["completions"]:
            assert completion["principle"] in ("helpfulness", "honesty", "verbalized_calibration")
            assert completion["custom_system_prompt"] in PRINCIPLES[completion["principle"]]
            asked = next(b for b in sent if b["model"] == completion["model"] and completion["response"].endswith(
                b["messages"][-1]["content"][:60]) and f"seed {b['seed']}" in completion["response"])  # fmt: skip
            assert asked["messages"][0] == {"role": "system", "content": completion["custom_system_prompt"]}
            assert asked["max_tokens"] == 64 and asked["temperature"] == 1.0
            seeds.add(asked["seed"])
        assert len(seeds) == 4  # one seed per (model, sample)
    usage = provenance(tmp_path / "gen")["usage"]
    assert usage["alpha"]["requests"] + usage["beta"]["requests"] == 21
    assert usage["alpha"]["retries"] + usage["beta"]["retries"] == 1
    assert usage["alpha"]["cost_usd"] == pytest.approx(
        (usage["alpha"]["tokens_in"] * 1 + usage["alpha"]["tokens_out"] * 2) / 1e6
    )

    code, output = invoke(
        "rate", "-i", tmp_path / "gen", "--judge", f"judge@{server.url}", "-o", tmp_path / "rated", *QUIET
    )
    assert code == 0, output
    judged = [body for body in server.bodies if is_judge(body)]
    assert len(judged) == 5 * 4 + 1 and {b["temperature"] for b in judged} == {0.0}
    rated = rows(tmp_path / "rated")
    for before, after in zip(generated, rated, strict=True):
        assert after["instruction"] == before["instruction"] and after["models"] == before["models"]
        assert after["rating_failures"] == []
        for old, new in zip(before["completions"], after["completions"], strict=True):
            assert {k: new[k] for k in old} == old
            expected = str(rating_of(old["response"]))
            assert {a: v["Rating"] for a, v in new["annotations"].items()} == dict.fromkeys(
                ("helpfulness", "honesty", "instruction_following", "truthfulness"), expected
            )
            assert new["annotations"]["honesty"]["Rationale"].startswith("Because.")
            assert new["fine-grained_score"] == float(expected)
    record = provenance(tmp_path / "rated")
    assert record["generators"] == ["alpha", "beta"] and record["judge"]["name"] == "judge"
    assert record["rubrics"]["version"] == "v1" and set(record["rubrics"]["sha256"]) >= {"helpfulness", "request"}
    assert record["generation"][0]["params"]["principles"] == {
        "helpfulness": 2.0,
        "honesty": 1.0,
        "verbalized_calibration": 1.0,
    }
    assert record["usage"]["judge"]["retries"] == 1 and record["splits"] == {"train": 5}
    card = (tmp_path / "rated" / "README.md").read_text()
    assert "`alpha`, `beta`" in card and "`judge`" in card and "- split: train" in card

    code, output = invoke(
        "binarize", "-i", tmp_path / "rated", "-o", tmp_path / "pairs", "--test-size", "1", "--no-progress"
    )
    assert code == 0, output
    pairs = pq.read_table(next((tmp_path / "pairs" / "data").glob("train_prefs-*.parquet"))).to_pylist()
    assert len(pairs) == 4 and all(p["score_chosen"] >= p["score_rejected"] for p in pairs)
    binarized = provenance(tmp_path / "pairs")
    assert binarized["inputs"][0]["feedback"]["judge"] == "judge"
    assert binarized["inputs"][0]["feedback"]["generators"] == ["alpha", "beta"]
    card = (tmp_path / "pairs" / "README.md").read_text()
    assert "## AI feedback" in card and "completions by `alpha`, `beta`; rated by `judge`" in card


def test_unreadable_judge_answers_are_reasked_then_na_with_the_raw_answer_kept(tmp_path: Path, prompts: Path) -> None:
    garbage = "I think both are fine, really."

    def judge(body: Body) -> Reply:
        if not is_judge(body):
            return default_reply(body)
        aspect, retry = aspect_of(body), len(body["messages"]) > 2
        count = len(judged_texts(body))
        if aspect == "helpfulness":  # unreadable at first, readable when asked again
            readable = "\n".join(f"#### Output for Text {n}\nRating: 5\nRationale: Good." for n in range(1, count + 1))
            return Reply(readable if retry else garbage)
        if aspect == "honesty":  # never readable
            return Reply(garbage)
        if aspect == "instruction following":  # only the first response rated, every time
            return Reply("Text 1: Rating: 3\nRationale: Partly.")
        return Reply(json.dumps([{"rating": 2, "explanation": "JSON"}] * count))

    with ScriptedServer(judge) as server:
        code, output = invoke("generate", "-p", prompts, "-m", f"a@{server.url}", "-m", f"b@{server.url}",
                              "-o", tmp_path / "gen", *QUIET)  # fmt: skip
        assert code == 0, output
        server.reset()
        code, output = invoke("rate", "-i", tmp_path / "gen", "--judge", f"j@{server.url}", "--parse-retries", "2",
                              "-o", tmp_path / "rated", *QUIET)  # fmt: skip
        assert code == 0, output
        bodies = server.bodies
    by_aspect = {a: [b for b in bodies if aspect_of(b) == a] for a in map(aspect_of, bodies)}
    assert len(by_aspect["helpfulness"]) == 5 * 2 and len(by_aspect["truthfulness"]) == 5
    assert len(by_aspect["honesty"]) == len(by_aspect["instruction following"]) == 5 * 3
    reasked = next(b for b in by_aspect["honesty"] if len(b["messages"]) == 6)  # the second re-ask
    assert [m["role"] for m in reasked["messages"]] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert reasked["messages"][2]["content"] == garbage
    assert "no rating found for any of the 2 responses" in reasked["messages"][3]["content"]

    for row in rows(tmp_path / "rated"):
        first, second = (c["annotations"] for c in row["completions"])
        assert first["helpfulness"] == {"Rating": "5", "Rationale": "Good."}
        assert first["honesty"] == second["honesty"] == {"Rating": "N/A", "Rationale": "N/A"}
        assert first["instruction_following"] == {"Rating": "3", "Rationale": "Partly."}
        assert second["instruction_following"]["Rating"] == "N/A"
        assert first["truthfulness"] == {"Rating": "2", "Rationale": "JSON"}
        assert row["completions"][0]["fine-grained_score"] == pytest.approx((5 + 3 + 2) / 3)
        failures = {f["aspect"]: f for f in row["rating_failures"]}
        assert set(failures) == {"honesty", "instruction_following"}
        assert failures["honesty"]["replies"] == [garbage] * 3 and failures["honesty"]["attempts"] == 3
        assert failures["instruction_following"]["problem"] == "no valid rating (1 to 5, or N/A) for response 2 of 2"
    parse = provenance(tmp_path / "rated")["parse"]
    assert parse["helpfulness"] == {"asked": 5, "retried": 5, "failed": 0, "unrated": 0}
    assert parse["honesty"] == {"asked": 5, "retried": 5, "failed": 5, "unrated": 10}
    assert parse["instruction_following"] == {"asked": 5, "retried": 5, "failed": 5, "unrated": 5}
    assert parse["truthfulness"] == {"asked": 5, "retried": 0, "failed": 0, "unrated": 0}
    summary = feedback_summary(tmp_path / "rated" / DATA)  # what binarize's card reports
    assert summary is not None and summary["unparsed_ratings"] == 10 and summary["judge"] == "j"


def test_same_seed_same_bytes_and_a_rerun_costs_nothing(server: ScriptedServer, prompts: Path, tmp_path: Path) -> None:
    def run(name: str, *extra: str) -> Path:
        args = ("-m", f"a@{server.url}", "-m", f"b@{server.url}", "--principles", "all", "-o", tmp_path / name)
        code, output = invoke("generate", "-p", prompts, *args, *QUIET, "--concurrency", "3", *extra)
        assert code == 0, output
        code, output = invoke("rate", "-i", tmp_path / name, "--judge", f"j@{server.url}", "-o",
                              tmp_path / f"{name}-rated", *QUIET, *extra)  # fmt: skip
        assert code == 0, output
        return tmp_path / f"{name}-rated"

    first, second = run("one"), run("two")
    assert len(server.requests) == 2 * (10 + 20)
    for name in (DATA, "provenance.json", "README.md"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    for name in (DATA, "README.md"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    card = (first / "README.md").read_bytes()
    (first / "README.md").unlink()
    code, output = invoke("card", first)  # `distill-data card` rebuilds the card of a rated folder byte for byte
    assert code == 0, output
    assert (first / "README.md").read_bytes() == card
    records = [provenance(first), provenance(second)]
    assert [r["inputs"][0].pop("path") for r in records] == [str(tmp_path / x / DATA) for x in ("one", "two")]
    assert records[0] == records[1]  # all but where the input was
    server.reset()
    code, output = invoke("generate", "-p", prompts, "-m", f"a@{server.url}", "-m", f"b@{server.url}", "--principles",
                          "all", "-o", tmp_path / "again", "--cache-dir", tmp_path / "one.cache", *QUIET)  # fmt: skip
    assert code == 0, output
    code, output = invoke("rate", "-i", tmp_path / "again", "--judge", f"j@{server.url}", "-o", tmp_path / "rerated",
                          "--cache-dir", tmp_path / "one-rated.cache", "--resume", *QUIET)  # fmt: skip
    assert code == 0, output
    assert server.requests == []  # everything came from the caches of the first run
    assert (tmp_path / "again" / DATA).read_bytes() == (tmp_path / "one" / DATA).read_bytes()
    assert (tmp_path / "rerated" / DATA).read_bytes() == (first / DATA).read_bytes()
    usage = provenance(tmp_path / "rerated")["usage"]["j"]
    assert (usage["cache_hits"], usage["requests"], usage["answers"]) == (20, 0, 20)
    assert usage["tokens_in"] > 0 and usage["billed_tokens_in"] == 0
    other = run("other-seed", "--seed", "7")
    assert rows(other)[0]["completions"][0]["response"] != rows(first)[0]["completions"][0]["response"]


def test_the_api_key_is_sent_but_never_written(
    server: ScriptedServer, prompts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-feedback-test-7f3a9c1e5b"
    monkeypatch.setenv("FEEDBACK_GEN_KEY", secret)
    monkeypatch.setenv("FEEDBACK_JUDGE_KEY", secret + "-judge")
    server.script([Reply(status=400, body=f'{{"error": "bad request for key {secret}"}}')])
    outputs = []
    code, output = invoke("generate", "-p", prompts, "-m", f"a@{server.url}#FEEDBACK_GEN_KEY", "-m",
                          f"b@{server.url}", "--api-key-env", "FEEDBACK_GEN_KEY", "-o", tmp_path / "gen",
                          "--on-error", "skip", *QUIET)  # fmt: skip
    outputs.append(output)
    assert code == 0, output
    code, output = invoke("rate", "-i", tmp_path / "gen", "--judge", f"j@{server.url}#FEEDBACK_JUDGE_KEY",
                          "-o", tmp_path / "rated", *QUIET)  # fmt: skip
    outputs.append(output)
    assert code == 0, output
    assert {r.authorization for r in server.requests if not is_judge(r.body)} == {f"Bearer {secret}"}
    assert {r.authorization for r in server.requests if is_judge(r.body)} == {f"Bearer {secret}-judge"}
    record = provenance(tmp_path / "gen")
    assert record["failures"]["count"] == 1 and "***" in record["failures"]["examples"][0]
    assert [m["api_key_env"] for m in record["models"]] == ["FEEDBACK_GEN_KEY", "FEEDBACK_GEN_KEY"]
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "requests.sqlite" for p in written) and len(written) > 8
    for path in written:
        assert secret.encode() not in path.read_bytes(), path
    assert all(secret not in text for text in outputs)


def test_a_killed_run_resumes_without_repeating_a_request(
    server: ScriptedServer, prompts: Path, tmp_path: Path
) -> None:
    answered_first = 5
    server.hold_after(answered_first)
    command = [sys.executable, "-m", "distill_data.cli", "generate", "-p", str(prompts), "-m", f"a@{server.url}",
               "-m", f"b@{server.url}", "-o", str(tmp_path / "gen"), "--concurrency", "2", *QUIET]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while len(server.requests) < answered_first + 2:  # the answered ones, then the two held in flight
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "the run never reached the held requests"
            time.sleep(0.02)
    finally:
        process.kill()
        process.wait()
    first_run = server.bodies
    answered = [r.body for r in server.requests if r.status == 200]
    assert len(first_run) == answered_first + 2 and len(answered) == answered_first
    assert not (tmp_path / "gen").exists()  # nothing half-written at the output
    with sqlite3.connect(tmp_path / "gen.cache" / "requests.sqlite") as db:
        assert {key for (key,) in db.execute("SELECT key FROM answers")} == {request_key(b) for b in answered}

    server.release()
    server.reset()
    code, output = invoke("generate", "-p", prompts, "-m", f"a@{server.url}", "-m", f"b@{server.url}",
                          "-o", tmp_path / "gen", "--concurrency", "2", "--resume", *QUIET)  # fmt: skip
    assert code == 0, output
    resumed = server.bodies
    assert len(resumed) == 10 - answered_first
    assert not {request_key(b) for b in resumed} & {request_key(b) for b in answered}
    usage = provenance(tmp_path / "gen")["usage"]
    assert sum(u["cache_hits"] for u in usage.values()) == answered_first
    assert provenance(tmp_path / "gen")["cache"] == {"enabled": True, "resumed": True}
    code, output = invoke("generate", "-p", prompts, "-m", f"a@{server.url}", "-m", f"b@{server.url}",
                          "-o", tmp_path / "fresh", "--no-cache", *QUIET)  # fmt: skip
    assert code == 0, output
    assert (tmp_path / "gen" / DATA).read_bytes() == (tmp_path / "fresh" / DATA).read_bytes()


def test_failures_stop_the_run_or_are_skipped(server: ScriptedServer, tmp_path: Path) -> None:
    prompts = write_jsonl(tmp_path / "p.jsonl", [*PROMPTS[:2], {"prompt": "   "}, {"instruction": 3}, PROMPTS[3]])
    code, output = invoke("generate", "-p", prompts, "-m", f"a@{server.url}", "-o", tmp_path / "g", *QUIET)
    assert code == 1 and f"{prompts}, line 3: field 'prompt': empty prompt" in " ".join(output.split())
    assert server.requests == [] and not (tmp_path / "g").exists()  # checked before anything is sent
    assert not (tmp_path / "g.cache").exists()

    broken = lambda body: body["model"] == "broken"  # noqa: E731
    server.script([Reply(status=503)] * 100, when=broken)
    args = ("-m", f"a@{server.url}", "-m", f"broken@{server.url}", "--max-retries", "1", *QUIET)
    code, output = invoke("generate", "-p", prompts, *args, "-o", tmp_path / "g", "--on-error", "skip")
    assert code == 0, output
    generated = rows(tmp_path / "g")
    assert len(generated) == 3 and all(row["models"] == ["a"] for row in generated)
    assert generated[0]["completions"][0] | {"response": ""} == {
        "model": "a", "response": "", "custom_system_prompt": "", "principle": "none"
    }  # fmt: skip
    assert all(len(body["messages"]) == 1 for body in server.bodies)  # no --principles: no system prompt
    record = provenance(tmp_path / "g")
    assert record["failures"]["count"] == 3 and "gave up after 2 attempts" in record["failures"]["examples"][0]
    assert record["usage"]["broken"]["failed"] == 3 and record["usage"]["broken"]["requests"] == 6
    rejects = [json.loads(line) for line in (tmp_path / "g" / "rejects.jsonl").read_text().splitlines()]
    assert [(r["location"], r["field"]) for r in rejects] == [("line 3", "prompt"), ("line 4", "instruction")]

    code, output = invoke("generate", "-p", prompts, "-m", f"broken@{server.url}", "--max-retries", "0",
                          "-o", tmp_path / "none", "--on-error", "skip", *QUIET)  # fmt: skip
    assert code == 1 and "no rows to write: 3 requests failed for good" in output and not (tmp_path / "none").exists()

    # A judge request that fails for good, skipped: N/A for that aspect, the error kept for audit.
    server.script([Reply(status=503)] * 100, when=lambda body: is_judge(body) and aspect_of(body) == "honesty")
    code, output = invoke("rate", "-i", tmp_path / "g", "--judge", f"j@{server.url}", "--max-retries", "0",
                          "-o", tmp_path / "r", "--on-error", "skip", *QUIET)  # fmt: skip
    assert code == 0, output
    for row in rows(tmp_path / "r"):
        assert row["completions"][0]["annotations"]["honesty"] == {"Rating": "N/A", "Rationale": "N/A"}
        assert row["completions"][0]["annotations"]["helpfulness"]["Rating"] != "N/A"
        (failure,) = row["rating_failures"]
        assert failure["aspect"] == "honesty" and failure["attempts"] == 0 and failure["replies"] == []
        assert failure["problem"].startswith("request failed: HTTP 503")
    assert provenance(tmp_path / "r")["failures"]["count"] == 3

    good = write_jsonl(tmp_path / "good.jsonl", PROMPTS[:2])
    code, output = invoke("generate", "-p", good, *args, "-o", tmp_path / "g2", "--no-cache")
    assert code == 1 and "model broken at" in output and "HTTP 503" in output and not (tmp_path / "g2").exists()


def test_rate_reads_raw_ultrafeedback_rows_and_usage_errors(server: ScriptedServer, tmp_path: Path) -> None:
    sample = REPO / "distill_data" / "samples" / "ultrafeedback_sample.jsonl"
    raw = write_jsonl(tmp_path / "raw.jsonl", [json.loads(line) for line in sample.read_text().splitlines()[:2]])
    code, output = invoke("rate", "-i", raw, "--judge", f"j@{server.url}", "--aspects", "honesty,helpfulness",
                          "-o", tmp_path / "rated", *QUIET)  # fmt: skip
    assert code == 0, output
    first = rows(tmp_path / "rated")[0]["completions"][0]
    assert first["annotations"]["truthfulness"] == {"Rating": "N/A", "Rationale": "not rated: aspect not requested"}
    assert first["annotations"]["honesty"]["Rating"] == str(rating_of(first["response"]))
    assert first["principle"] == "none" and first["custom_system_prompt"] == ""
    assert len(server.requests) == 2 * 2

    for args, message in [
        (("--resume", "--no-cache"), "--resume: nothing to resume from (--no-cache was given"),
        (("--resume",), "--resume: nothing to resume from (no cache at"),
        (("--price", "gpt-4o=1/2"), "--price: no model named gpt-4o in this run"),
        (("--aspects", "kindness"), "unknown aspect(s) kindness"),
    ]:
        code, output = invoke("rate", "-i", raw, "--judge", f"j@{server.url}", "-o", tmp_path / "x", *args, *QUIET)
        assert code == 2 and message in " ".join(output.split()), output
    os.environ.pop("FEEDBACK_MISSING_KEY", None)
    code, output = invoke("rate", "-i", raw, "--judge", f"j@{server.url}#FEEDBACK_MISSING_KEY", "-o", tmp_path / "x")
    assert code == 2 and "FEEDBACK_MISSING_KEY (its API key) is not set" in output
    code, output = invoke("rate", "-i", raw, "--judge", f"j@{server.url}", "-o", tmp_path / "rated", *QUIET)
    assert code == 1 and "folder exists and is not empty" in output
    server.script([Reply(status=401)])
    code, output = invoke("rate", "-i", raw, "--judge", f"j@{server.url}", "-o", tmp_path / "x", "--no-cache", *QUIET)
    assert code == 2 and "model j at" in output and "HTTP 401" in output
    assert not (tmp_path / "x").exists()
