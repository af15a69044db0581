"""NearDedup: MinHash LSH over character shingles clusters paraphrased prompts, keeps the first of each cluster,
and records the clusters in provenance."""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH
from helpers import dialogues

from distill_data import Pipeline
from distill_data.errors import ConfigError
from distill_data.processors import NearDedup, PromptId, StepStats, near_dedup, processor_from_dict, prompt_id
from distill_data.processors.base import MAX_CLUSTER_ROWS
from distill_data.processors.near_dedup import LSH_WEIGHTS, MAX_CLUSTERS, normalise, shingle_hash, signatures
from distill_data.synthetic import ultrachat_rows

BASES = [
    "I run a small bakery in Lisbon and want to start selling sourdough bread online. Could you explain how I "
    "should price each loaf, which delivery options make sense for fresh bread, and what I need to know about "
    "food safety rules before shipping to customers?",
    "My team is moving a ten-year-old Django monolith to a set of smaller services. What is a sensible order for "
    "splitting it up, how do we keep the shared database consistent during the migration, and which mistakes "
    "do teams usually regret afterwards?",
    "Write a short story for children aged six to eight about a lighthouse keeper who befriends a lost seal pup. "
    "The story should be gentle, have a clear beginning, middle and end, and teach something simple about the "
    "ocean without sounding like a lesson.",
    "Compare the Roman and Han empires around the year 100 CE in terms of population, trade networks, "
    "administration and military organisation, and explain which of the two was better placed to survive a "
    "long period of drought and poor harvests.",
]
BOILERPLATE = (
    "You are a helpful assistant. Answer the question below carefully, step by step, and cite your sources "
    "where you can. Question: "
)
DISTINCT_QUESTIONS = [
    "What causes the seasons on Earth, and why are they reversed in the southern hemisphere?",
    "How do vaccines train the immune system to recognise a virus it has never encountered before?",
    "Why did the Bronze Age collapse happen so quickly across the eastern Mediterranean around 1177 BC?",
    "How does a bicycle stay upright when it is moving but fall over when it stands still?",
    "What makes sourdough rise without any commercial yeast being added to the dough?",
]


def paraphrase(text: str, rng: random.Random) -> str:
    """A light paraphrase: two adjacent words swapped, punctuation and case changed, or a word inserted."""
    words = text.split(" ")
    edit = rng.choice(["swap", "punctuation", "case", "insert", "combined"])
    if edit in ("swap", "combined"):
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    if edit in ("insert", "combined"):
        words.insert(rng.randrange(1, len(words)), rng.choice(["please", "really", "also", "now"]))
    text = " ".join(words)
    if edit in ("punctuation", "combined"):
        text = text.replace(",", "").replace("?", "!!").replace(".", ";")
    if edit == "case":
        text = rng.choice([str.upper, str.lower, str.title])(text)
    return text


def prompts_table(prompts: list[str | None], with_ids: bool = True) -> pa.Table:
    columns = {"prompt": pa.array(prompts, pa.string())}
    if with_ids:
        columns["prompt_id"] = pa.array([None if p is None else prompt_id(p) for p in prompts], pa.string())
    return pa.table(columns)


def run(step: NearDedup, table: pa.Table, batch_size: int | None = None) -> tuple[list, list, StepStats]:
    """Reasons and details of every row, and the stats, with ``table`` fed in batches of ``batch_size``."""
    step.setup()
    stats = StepStats(step.name)
    reasons: list = []
    details: list = []
    size = batch_size or len(table)
    for offset in range(0, len(table), size):
        batch_reasons, batch_details = step._drop_reasons(table.slice(offset, size), stats)
        reasons += batch_reasons.to_pylist()
        details += batch_details.to_pylist()
    return reasons, details, stats


def estimated_jaccard(a: str, b: str, num_perm: int = 128, seed: int = 42) -> float:
    sigs, _ = signatures(normalise(pa.array([a, b])), num_perm, 5, seed)
    return float(np.count_nonzero(sigs[0] == sigs[1])) / num_perm


def shingles(text: str, n: int = 5) -> list[str]:
    normalised = normalise(pa.array([text])).to_pylist()[0]
    return [normalised[i : i + n] for i in range(max(len(normalised) - n + 1, 1))] if normalised else []


def corpus_with_paraphrases(n: int, seed: int) -> list[str]:
    """Generated UltraChat prompts with paraphrases of the long base prompts mixed in."""
    rng = random.Random(seed)
    prompts = [row["data"][0] for row in ultrachat_rows(n, seed=seed)]
    for base in BASES:
        prompts.insert(rng.randrange(len(prompts) // 2), base)
        for _ in range(4):
            prompts.insert(rng.randrange(len(prompts) // 2, len(prompts)), paraphrase(base, rng))
    return prompts


def test_signatures_equal_datasketch_minhash() -> None:
    texts = ["Hello, World!  How are you?", "hi", "Ünïcode — text; 東京 and नमस्ते words", "abcde", "", None, "?!"]
    for num_perm, ngram, seed in ((128, 5, 42), (64, 3, 7)):
        sigs, has_text = signatures(normalise(pa.array(texts, pa.string())), num_perm, ngram, seed)
        assert has_text.tolist() == [True, True, True, True, False, False, False]
        for text, sig, present in zip(texts, sigs, has_text, strict=True):
            if not present:
                continue
            reference = MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hash)
            reference.update_batch(shingles(text, ngram))
            assert np.array_equal(reference.hashvalues, sig), text


def test_paraphrases_cluster_under_their_first_occurrence() -> None:
    rng = random.Random(3)
    prompts = list(BASES)
    expected = {}
    for number, base in enumerate(BASES):
        for _ in range(5):
            expected[len(prompts)] = prompt_id(base)
            prompts.append(paraphrase(base, rng))
        assert estimated_jaccard(base, BASES[(number + 1) % len(BASES)]) < 0.3
    # These paraphrases have a true Jaccard of 0.88 to 1; the estimate from 128 permutations has a standard
    # error of about 0.03, so the threshold leaves room below them.
    reasons, details, stats = run(NearDedup(threshold=0.8), prompts_table(prompts))
    assert reasons[: len(BASES)] == [None] * len(BASES)
    dropped = {row: detail.split()[2] for row, detail in enumerate(details) if detail is not None}
    assert dropped == expected
    assert all(0.8 <= float(d.rstrip(")").split()[-1]) <= 1 for d in details if d is not None)
    assert stats.counters == {"clusters": len(BASES)}
    assert stats.clusters == {
        prompt_id(base): {
            "dropped": 5,
            "dropped_rows": [prompt_id(prompts[row]) for row, kept in expected.items() if kept == prompt_id(base)],
        }
        for base in BASES
    }


def test_distinct_prompts_sharing_boilerplate_are_kept() -> None:
    prompts = [BOILERPLATE + question for question in DISTINCT_QUESTIONS]
    assert max(estimated_jaccard(prompts[0], p) for p in prompts[1:]) < 0.6
    reasons, _, stats = run(NearDedup(), prompts_table(prompts))
    assert reasons == [None] * len(prompts)
    assert stats.clusters == {} and stats.counters == {}
    # the same prompts, asked twice with different punctuation, are caught
    reasons, _, _ = run(NearDedup(), prompts_table(prompts + [p.replace("?", ".") for p in prompts]))
    assert reasons == [None] * len(prompts) + ["near_duplicate"] * len(prompts)


def test_threshold_is_applied_to_the_estimate() -> None:
    base = BASES[0]
    close = base.replace("Could you", "Could you please")  # true Jaccard of the shingle sets: 0.95
    far = base.replace("sourdough bread online", "cakes at the market")  # true Jaccard: 0.80
    true_jaccard = [
        len(set(shingles(base)) & set(shingles(p))) / len(set(shingles(base)) | set(shingles(p))) for p in (close, far)
    ]
    assert true_jaccard[0] > 0.9 and 0.75 < true_jaccard[1] < 0.85
    assert run(NearDedup(threshold=0.85), prompts_table([base, close, far]))[0] == [None, "near_duplicate", None]
    estimate = estimated_jaccard(base, close)
    assert run(NearDedup(threshold=estimate), prompts_table([base, close]))[0] == [None, "near_duplicate"]
    assert run(NearDedup(threshold=estimate + 1 / 128), prompts_table([base, close]))[0] == [None, None]
    assert run(NearDedup(threshold=0.7), prompts_table([base, far]))[0] == [None, "near_duplicate"]


@pytest.mark.parametrize("seed", [0, 1, 42, 2**32 - 1])
def test_seed_changes_nothing_for_exact_duplicates(seed: int) -> None:
    prompt = BASES[1]
    copies = [prompt, prompt.upper(), "  " + prompt.replace(" ", "\n  ") + " ", prompt.replace(",", " ;; ")]
    reasons, details, _ = run(NearDedup(seed=seed), prompts_table(copies, with_ids=False))
    assert reasons == [None] + ["near_duplicate"] * 3
    assert details[1:] == ["near-duplicate of row 0 (estimated Jaccard 1.00)"] * 3


def test_seed_changes_the_signatures() -> None:
    text = normalise(pa.array([BASES[2]]))
    assert not np.array_equal(signatures(text, 128, 5, 1)[0], signatures(text, 128, 5, 2)[0])


def test_same_drops_whatever_the_batch_size() -> None:
    table = prompts_table(corpus_with_paraphrases(150, seed=11))
    results = [run(NearDedup(), table, size) for size in (1, 7, None)]
    reasons, details, stats = results[0]
    assert reasons.count("near_duplicate") >= 4 * len(BASES)
    for other_reasons, other_details, other_stats in results[1:]:
        assert other_reasons == reasons and other_details == details
        assert other_stats.clusters == stats.clusters and other_stats.counters == stats.counters


def test_matches_datasketch_lsh_reference() -> None:
    """The processor drops what a plain datasketch MinHash + MinHashLSH implementation of the same rule drops."""
    prompts = corpus_with_paraphrases(200, seed=5)
    reasons, details, _ = run(NearDedup(threshold=0.8, num_perm=64, seed=9), prompts_table(prompts, with_ids=False))
    lsh = MinHashLSH(threshold=0.8, num_perm=64, weights=LSH_WEIGHTS)
    kept: dict[int, MinHash] = {}
    expected_reasons, expected_details = [], []
    for row, prompt in enumerate(prompts):
        minhash = MinHash(num_perm=64, seed=9, hashfunc=shingle_hash)
        minhash.update_batch(shingles(prompt))
        scores = sorted((-minhash.jaccard(kept[k]), k) for k in lsh.query(minhash))
        if scores and -scores[0][0] >= 0.8:
            expected_reasons.append("near_duplicate")
            expected_details.append(f"near-duplicate of row {scores[0][1]} (estimated Jaccard {-scores[0][0]:.2f})")
        else:
            kept[row] = LeanMinHash(minhash)
            lsh.insert(row, kept[row])
            expected_reasons.append(None)
            expected_details.append(None)
    assert reasons == expected_reasons and details == expected_details
    assert reasons.count("near_duplicate") > 20


def test_prompts_without_text_are_skipped_and_rows_counted() -> None:
    table = prompts_table([None, "", "?!?", BASES[0], None, BASES[0] + "!"], with_ids=False)
    reasons, details, _ = run(NearDedup(), table, batch_size=2)
    assert reasons == [None, None, None, None, None, "near_duplicate"]
    assert details[5] == "near-duplicate of row 3 (estimated Jaccard 1.00)"
    # a null prompt_id falls back to the row number
    table = pa.table({"prompt": [BASES[1], BASES[1]], "prompt_id": pa.array([None, "b"], pa.string())})
    assert run(NearDedup(), table)[1][1] == "near-duplicate of row 0 (estimated Jaccard 1.00)"


def test_short_prompts_are_one_shingle() -> None:
    reasons, _, _ = run(NearDedup(), prompts_table(["Hi!", "hi", "Hey", "ok", "OK."], with_ids=False))
    assert reasons == [None, "near_duplicate", None, None, "near_duplicate"]


def test_setup_resets_state() -> None:
    step = NearDedup()
    table = prompts_table([BASES[0]])
    assert run(step, table)[0] == [None]
    assert run(step, table)[0] == [None]  # run() calls setup(): the first row is new again


def test_params_round_trip_and_validation() -> None:
    step = processor_from_dict({"near_dedup": {"threshold": 0.7, "num_perm": 64, "ngram": 3, "seed": 1}})
    assert step == NearDedup(threshold=0.7, num_perm=64, ngram=3, seed=1)
    spec = json.loads(json.dumps(step.to_dict()))
    assert spec == {"near_dedup": {"threshold": 0.7, "num_perm": 64, "ngram": 3, "seed": 1}}
    assert processor_from_dict(spec) == step
    assert processor_from_dict("near_dedup") == NearDedup()
    for params, message in [
        ({"threshold": 0}, "'threshold' must be in"),
        ({"threshold": 1.5}, "'threshold' must be in"),
        ({"threshold": 1.0}, "no usable LSH bands"),
        ({"threshold": "high"}, "'threshold' must be float"),
        ({"num_perm": 1}, "'num_perm' must be at least 2"),
        ({"ngram": 0}, "'ngram' must be positive"),
        ({"seed": -1}, "'seed' must be in"),
        ({"shingle": "word"}, "unknown parameter 'shingle'"),
    ]:
        with pytest.raises(ConfigError, match=message):
            processor_from_dict({"near_dedup": params})


def test_pipeline_records_clusters_in_stats_dicts() -> None:
    prompts = corpus_with_paraphrases(200, seed=4)
    table = dialogues(*[[p, "Sure."] for p in prompts])
    pipeline = Pipeline([PromptId(), NearDedup()])
    batches = [table.slice(offset, 50) for offset in range(0, len(table), 50)]
    kept = pa.concat_tables(pipeline.run(batches, progress=False))
    step = pipeline.stats_dicts()[1]
    assert step["name"] == "near_dedup"
    assert step["params"] == {"threshold": 0.85, "num_perm": 128, "ngram": 5, "seed": 42}
    assert step["rows_out"] == len(kept) == len(prompts) - step["dropped"]["near_duplicate"]
    for base in BASES:
        cluster = step["clusters"][prompt_id(base)]
        assert cluster["dropped"] >= 4
        assert prompt_id(base) in kept.column("prompt_id").to_pylist()
        assert not set(cluster["dropped_rows"]) & set(kept.column("prompt_id").to_pylist())
    assert step["counters"]["clusters"] == len(step["clusters"])
    assert sum(c["dropped"] for c in step["clusters"].values()) == step["dropped"]["near_duplicate"]
    assert json.loads(json.dumps(step)) == step


def test_provenance_lists_a_bounded_number_of_clusters() -> None:
    rng = random.Random(8)
    vocabulary = sorted({w.strip(",.?").lower() for text in BASES + DISTINCT_QUESTIONS for w in text.split()})
    prompts = [" ".join(rng.choices(vocabulary, k=15)) for _ in range(MAX_CLUSTERS + 30)]
    prompts += [p + "!" for p in prompts] + [prompts[0] + "?"] * (MAX_CLUSTER_ROWS + 5)
    reasons, _, stats = run(NearDedup(), prompts_table(prompts, with_ids=False), batch_size=64)
    assert reasons[: MAX_CLUSTERS + 30] == [None] * (MAX_CLUSTERS + 30)
    assert stats.counters["clusters"] == MAX_CLUSTERS + 30
    assert list(stats.clusters) == [f"row {i}" for i in range(MAX_CLUSTERS)]
    assert stats.clusters["row 0"]["dropped"] == 1 + MAX_CLUSTER_ROWS + 5
    assert len(stats.clusters["row 0"]["dropped_rows"]) == MAX_CLUSTER_ROWS


def test_stats_merge_adds_clusters() -> None:
    first, second = StepStats("near_dedup"), StepStats("near_dedup")
    first.clusters = {"a": {"dropped": 2, "dropped_rows": ["row 3", "row 4"]}}
    second.clusters = {
        "a": {"dropped": 30, "dropped_rows": [f"row {i}" for i in range(10, 30)]},
        "b": {"dropped": 1, "dropped_rows": ["row 9"]},
    }
    first.merge(second)
    assert first.clusters["a"]["dropped"] == 32
    assert first.clusters["a"]["dropped_rows"] == ["row 3", "row 4"] + [f"row {i}" for i in range(10, 28)]
    assert first.clusters["b"] == {"dropped": 1, "dropped_rows": ["row 9"]}


def test_signatures_do_not_depend_on_how_shingles_are_chunked(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = normalise(pa.array([BASES[0], "ab", None, BASES[1] * 3, "", BASES[2], "xyz"], pa.string()))
    whole = signatures(texts, 64, 5, 3)
    monkeypatch.setattr(near_dedup, "_SHINGLES_PER_CHUNK", 7)  # rows split across chunks and groups
    split = signatures(texts, 64, 5, 3)
    assert np.array_equal(whole[0], split[0]) and np.array_equal(whole[1], split[1])


def test_state_survives_pickling() -> None:
    """A run can be continued from a pickled step (as a checkpoint or another process would)."""
    prompts = corpus_with_paraphrases(120, seed=2)
    table = prompts_table(prompts)
    expected = run(NearDedup(), table)[0]
    step = NearDedup()
    first, _, _ = run(step, table.slice(0, 70))
    restored = pickle.loads(pickle.dumps(step))
    stats = StepStats(restored.name)
    rest = restored._drop_reasons(table.slice(70), stats)[0].to_pylist()
    assert first + rest == expected


@pytest.mark.parametrize("command", ["ultrachat", "binarize"])
def test_cli_near_dedup_option(command: str, tmp_path: Path) -> None:
    """`--near-dedup 0.8` in both commands: near copies of earlier prompts go, with their clusters in provenance."""
    from click.testing import CliRunner
    from conftest import write_jsonl

    from distill_data.cli import cli
    from distill_data.synthetic import ultrafeedback_rows

    if command == "ultrachat":
        rows = list(ultrachat_rows(120, seed=71))
        copies = [{**row, "id": f"copy-{i}", "data": [row["data"][0].rstrip("?.!") + ", please?", *row["data"][1:]]}
                  for i, row in enumerate(rows[:15])]  # fmt: skip
        args = ["ultrachat", "--test-size", "5"]
    else:
        rows = list(ultrafeedback_rows(120, seed=72))
        copies = [{**row, "instruction": row["instruction"].rstrip("?.!") + ", please?"} for row in rows[:15]]
        args = ["binarize", "--test-size", "5"]
    source = write_jsonl(tmp_path / "in.jsonl", [*rows, *copies])
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, [*args, "-i", str(source), "-o", str(out), "--near-dedup", "0.8", "--no-progress"])
    assert result.exit_code == 0, result.output
    steps = json.loads((out / "provenance.json").read_text())["steps"]
    near = next(step for step in steps if step["name"] == "near_dedup")
    assert near["params"]["threshold"] == 0.8
    assert near["dropped"].get("near_duplicate", 0) >= 12  # MinHash estimates: a few copies may fall short
    assert near["clusters"] and near["counters"]["clusters"] == len(near["clusters"])

    refused = CliRunner().invoke(cli, [*args, "-i", str(source), "-o", str(tmp_path / "x"), "--near-dedup", "1.5"])
    assert refused.exit_code == 2 and "--near-dedup" in refused.output


def reference_drop_reasons(step: NearDedup, table: pa.Table, batch_size: int) -> tuple[list, list, StepStats]:
    """The index as it was before it was made compact: a dict of full band keys -> every kept row with that key,
    a list of signatures and a list of labels, one row at a time (the reference for the exact same decisions)."""
    bands, rows_per_band = near_dedup.lsh_bands(step.threshold, step.num_perm)
    buckets: dict[int, list[int]] = {}
    kept_signatures: list[np.ndarray] = []
    labels: list[str] = []
    tracked: dict[int, str] = {}
    clustered: set[int] = set()
    stats = StepStats(step.name)
    reasons: list = []
    details: list = []
    for offset in range(0, len(table), batch_size):
        batch = table.slice(offset, batch_size)
        sigs, has_text = signatures(normalise(batch.column("prompt")), step.num_perm, step.ngram, step.seed)
        keys = near_dedup.band_keys(sigs, bands, rows_per_band).tolist()
        ids = batch.column("prompt_id").to_pylist() if "prompt_id" in batch.column_names else [None] * len(batch)
        for row in range(len(batch)):
            label = ids[row] or f"row {offset + row}"
            if not has_text[row]:
                reasons.append(None)
                details.append(None)
                continue
            candidates = sorted({kept for key in keys[row] for kept in buckets.get(key, [])})
            scores = [int(np.count_nonzero(kept_signatures[kept] == sigs[row])) for kept in candidates]
            best = candidates[scores.index(max(scores))] if scores else None
            if best is None or max(scores) / step.num_perm < step.threshold:
                for key in keys[row]:
                    if len(labels) not in buckets.setdefault(key, []):
                        buckets[key].append(len(labels))
                kept_signatures.append(sigs[row])
                labels.append(label)
                reasons.append(None)
                details.append(None)
                continue
            reasons.append("near_duplicate")
            details.append(f"near-duplicate of {labels[best]} (estimated Jaccard {max(scores) / step.num_perm:.2f})")
            if best not in clustered:
                clustered.add(best)
                stats.count("clusters", 1)
                if len(tracked) < MAX_CLUSTERS:
                    tracked[best] = labels[best]
            if best in tracked:
                cluster = stats.clusters.setdefault(tracked[best], {"dropped": 0, "dropped_rows": []})
                cluster["dropped"] += 1
                if len(cluster["dropped_rows"]) < MAX_CLUSTER_ROWS:
                    cluster["dropped_rows"].append(label)
    return reasons, details, stats


def varied_prompts(n: int, seed: int) -> list[str]:
    """Distinct prompts of random words, with near copies (a word changed or added) and exact copies mixed in."""
    rng = random.Random(seed)
    vocabulary = sorted({w.strip(",.?").lower() for text in BASES + DISTINCT_QUESTIONS for w in text.split()})
    prompts: list[str] = []
    for _ in range(n):
        roll = rng.random()
        if prompts and roll < 0.15:
            words = rng.choice(prompts).split()
            words[rng.randrange(len(words))] = rng.choice(vocabulary)
            prompts.append(" ".join(words))
        elif prompts and roll < 0.2:
            prompts.append(rng.choice(prompts) + rng.choice(["", "!", " please"]))
        else:
            prompts.append(" ".join(rng.choices(vocabulary, k=rng.randrange(3, 40))))
    return prompts


@pytest.mark.parametrize(
    "keys",
    [
        "as computed",
        # every lookup finds 32-bit matches that the full keys then reject (about 20 s: .ci/run's slow step)
        pytest.param("low 32 bits shared", marks=pytest.mark.slow),
        "full keys shared",  # few distinct keys: buckets with many kept rows, equal keys across bands
    ],
)
def test_compact_index_matches_a_dict_of_full_keys(keys: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same kept and dropped rows, details, cluster records and counters as the plain dict-based index, whatever
    the batch size, also when band keys collide, in their low 32 bits or entirely."""
    computed = near_dedup.band_keys
    if keys == "low 32 bits shared":
        monkeypatch.setattr(near_dedup, "band_keys", lambda *a: computed(*a) & np.uint64(0xFFFFFFF00000000F))
    elif keys == "full keys shared":
        monkeypatch.setattr(near_dedup, "band_keys", lambda *a: computed(*a) % np.uint64(97))
    prompts = corpus_with_paraphrases(150, seed=13) + varied_prompts(450, seed=13) + [None, "", "?!"]
    random.Random(1).shuffle(prompts)
    table = prompts_table(prompts, with_ids=False)
    with_ids = prompts_table(prompts)
    step = NearDedup(threshold=0.8)
    expected = reference_drop_reasons(step, table, 64)
    assert expected[0].count("near_duplicate") > 60 and expected[2].counters["clusters"] > 20
    for batch_size in (1, 13, 256, None):
        reasons, details, stats = run(NearDedup(threshold=0.8), table, batch_size)
        assert (reasons, details) == expected[:2]
        assert stats.clusters == expected[2].clusters and stats.counters == expected[2].counters
    reasons, details, stats = run(NearDedup(threshold=0.8), with_ids, 50)
    expected = reference_drop_reasons(step, with_ids, 50)
    assert (reasons, details) == expected[:2]
    assert stats.clusters == expected[2].clusters and stats.counters == expected[2].counters


def test_pickled_index_matches_a_dict_of_full_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The buckets, left out of the pickle and rebuilt from the signatures, give the same decisions."""
    computed = near_dedup.band_keys
    monkeypatch.setattr(near_dedup, "band_keys", lambda *a: computed(*a) & np.uint64(0xFFFFFFF00000000F))
    monkeypatch.setattr(near_dedup, "_BLOCK", 16)  # several signature blocks, the last one part full
    table = prompts_table(varied_prompts(300, seed=21))
    expected = reference_drop_reasons(NearDedup(), table, 40)
    step = NearDedup()
    step.setup()
    stats = StepStats(step.name)
    reasons: list = []
    for offset in range(0, len(table), 40):
        reasons += step._drop_reasons(table.slice(offset, 40), stats)[0].to_pylist()
        step = pickle.loads(pickle.dumps(step))
    assert reasons == expected[0] and stats.clusters == expected[2].clusters


def test_index_holds_under_700_bytes_per_kept_prompt() -> None:
    """At the defaults: the 512-byte signature, 12 bucket pairs of 8 bytes, a 41-byte prompt_id label and a flag
    (the dict-based index held about 1.5 KB). Counted from the arrays and, independently, by tracemalloc."""
    import gc
    import tracemalloc

    prompts = varied_prompts(20_000, seed=3)
    table = prompts_table(prompts)
    step = NearDedup()
    step.setup()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for offset in range(0, len(table), 5_000):
        step._drop_reasons(table.slice(offset, 5_000), StepStats(step.name))
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    index = step._index
    assert index is not None and len(index) > 15_000
    free = 4 * 128 * (len(index.blocks) * near_dedup._BLOCK - len(index))  # the last signature block's free rows
    assert (index.nbytes() - free) / len(index) < 700
    assert (held - free) / len(index) < 700
