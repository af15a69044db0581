"""The filters (disclaimer, structure, language, dedup), PromptId and the processor base class."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pytest
from helpers import contents, dialogues
from hypothesis import given, settings
from hypothesis import strategies as st

from distill_data.errors import ConfigError
from distill_data.processors import (
    DEFAULT_PHRASES,
    AssistantDisclaimerFilter,
    Dedup,
    LanguageFilter,
    PromptId,
    StepStats,
    StructureFilter,
    detect_language,
    normalise_prompt,
    processor_from_dict,
    registered_processors,
)
from distill_data.processors.base import EXAMPLE_CHARS, MAX_EXAMPLES

SAMPLES = Path(__file__).parent / "data"  # real rows copied from the shared samples


def run(processor, *tables):
    """Run ``processor`` over the batches ``tables`` as one run; return the output batches and the stats."""
    stats = StepStats(processor.name)
    processor.setup()
    return [processor.process(table, stats) for table in tables], stats


def reasons_of(processor, table):
    reasons, _ = processor.drop_reasons(table)
    return reasons.to_pylist()


# --- AssistantDisclaimerFilter -------------------------------------------------------------------------


@pytest.mark.parametrize("phrase", DEFAULT_PHRASES)
def test_disclaimer_each_default_phrase_drops(phrase):
    table = dialogues(
        ["Tell me about yourself.", f"Well, {phrase}, but here goes."],
        ["Tell me about the sea.", "The sea is large."],
        ids=["drop", "keep"],
    )
    (out,), stats = run(AssistantDisclaimerFilter(), table)
    assert out.column("id").to_pylist() == ["keep"]
    assert stats.dropped == {"assistant_disclaimer": 1}
    [example] = stats.examples["assistant_disclaimer"]
    assert example["id"] == "drop"
    assert example["first_turn"] == "Tell me about yourself."
    assert example["detail"] == phrase


@pytest.mark.parametrize(
    "reply",
    [
        "AS AN AI LANGUAGE MODEL, I cannot.",
        "as an ai language model i cannot",
        "I don’t have opinions on that.",  # curly apostrophe matches the straight phrase
        "I don‘t have feelings.",
        "I donʼt have emotions.",
        "Sure. As An Ai Assistant, here is the answer.",
    ],
)
def test_disclaimer_matching_is_case_and_apostrophe_insensitive(reply):
    assert reasons_of(AssistantDisclaimerFilter(), dialogues(["Question?", reply])) == ["assistant_disclaimer"]


def test_disclaimer_detail_names_the_configured_phrase_for_curly_text():
    (_,), stats = run(AssistantDisclaimerFilter(), dialogues(["Q?", "I don’t have opinions."]))
    assert stats.examples["assistant_disclaimer"][0]["detail"] == "I don't have opinions"


def test_disclaimer_in_user_turn_does_not_drop():
    table = dialogues(
        ["As an AI language model, what do you think?", "I think it is fine."],
        [("system", "You are an AI. I don't have emotions."), ("user", "Hi"), ("assistant", "Hello!")],
    )
    (out,), stats = run(AssistantDisclaimerFilter(), table)
    assert contents(out) == contents(table)
    assert stats.dropped == {}


def test_disclaimer_in_later_assistant_turn_drops():
    table = dialogues(["Hi", "Hello!", "How do you feel?", "I do not have feelings, but thanks."])
    assert reasons_of(AssistantDisclaimerFilter(), table) == ["assistant_disclaimer"]


def test_disclaimer_kept_without_phrase():
    table = dialogues(["Do you have emotions?", "People often ask about emotions."], ["Hi", "Hello"])
    (out,), stats = run(AssistantDisclaimerFilter(), table)
    assert out.num_rows == 2
    assert stats.dropped == {}


def test_disclaimer_custom_phrases():
    table = dialogues(
        ["Q", "As an AI language model, sure."],
        ["Q", "Certainly! Here you go."],
        ["Q", "CERTAINLY NOT."],
        ids=["default-phrase", "custom", "custom-upper"],
    )
    f = AssistantDisclaimerFilter(phrases=("certainly",))
    (out,), stats = run(f, table)
    assert out.column("id").to_pylist() == ["default-phrase"]
    assert stats.dropped == {"assistant_disclaimer": 2}
    assert [e["detail"] for e in stats.examples["assistant_disclaimer"]] == ["certainly", "certainly"]


def test_disclaimer_sliced_and_chunked_tables():
    table = dialogues(["a", "I'm an AI language model."], ["b", "fine"], ["c", "As an AI assistant, x"])
    f = AssistantDisclaimerFilter()
    assert reasons_of(f, table.slice(1)) == [None, "assistant_disclaimer"]
    chunked = pa.concat_tables([table.slice(0, 1), table.slice(1)])
    assert chunked.column("messages").num_chunks == 2
    assert reasons_of(f, chunked) == ["assistant_disclaimer", None, "assistant_disclaimer"]


# --- StructureFilter -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conv", "reason"),
    [
        (["Hi", ""], "empty_turn"),
        (["Hi", " \n\t "], "empty_turn"),
        (["", "Hello"], "empty_turn"),
        ([("assistant", "Hello"), ("user", "Hi")], "wrong_role_order"),
        ([("user", "Hi"), ("user", "Hi again"), ("assistant", "Hello")], "wrong_role_order"),
        ([("user", "Hi"), ("assistant", "Hello"), ("assistant", "Again")], "wrong_role_order"),
        ([("system", "s"), ("system", "s"), ("user", "Hi"), ("assistant", "Hello")], "wrong_role_order"),
        ([("user", "Hi"), ("system", "s"), ("assistant", "Hello")], "wrong_role_order"),
        ([("user", "Hi"), ("bot", "Hello")], "wrong_role_order"),
        ([("system", "s"), ("assistant", "Hello")], "wrong_role_order"),
        (["Hi"], "no_exchange"),
        ([("system", "s"), ("user", "Hi")], "no_exchange"),
        ([("system", "s")], "no_exchange"),
        ([], "no_exchange"),
        # the most basic problem wins
        ([("assistant", "")], "empty_turn"),
        ([("assistant", "Hello")], "wrong_role_order"),
    ],
)
def test_structure_drops(conv, reason):
    assert reasons_of(StructureFilter(), dialogues(conv)) == [reason]


@pytest.mark.parametrize(
    "conv",
    [
        ["Hi", "Hello"],
        ["Hi", "Hello", "How are you?", "Fine."],
        ["Hi", "Hello", "Bye"],  # ends with a user turn
        [("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello")],
    ],
)
def test_structure_keeps(conv):
    table = dialogues(conv)
    (out,), stats = run(StructureFilter(), table)
    assert contents(out) == contents(table)
    assert stats.dropped == {}


def test_structure_too_long_only_when_set():
    table = dialogues(["abcde", "fghij"], ["abcde", "fghijk"], ids=["ten", "eleven"])
    assert reasons_of(StructureFilter(), table) == [None, None]
    (out,), stats = run(StructureFilter(max_chars=10), table)
    assert out.column("id").to_pylist() == ["ten"]
    assert stats.dropped == {"too_long": 1}
    assert stats.examples["too_long"][0]["detail"] == "11 characters"


def test_structure_too_long_counts_characters_not_bytes():
    assert reasons_of(StructureFilter(max_chars=4), dialogues(["日本", "語だ"])) == [None]


def test_structure_empty_turn_wins_over_too_long():
    assert reasons_of(StructureFilter(max_chars=3), dialogues(["  ", "long reply"])) == ["empty_turn"]


@pytest.mark.parametrize("max_chars", [0, -5])
def test_structure_max_chars_must_be_positive(max_chars):
    with pytest.raises(ConfigError, match="max_chars"):
        StructureFilter(max_chars=max_chars)


def test_structure_per_row_in_a_mixed_batch():
    table = dialogues(["Hi", "Hello"], ["Hi", ""], ["Hi"], [("assistant", "x"), ("user", "y")], ["a", "b"])
    assert reasons_of(StructureFilter(), table) == [None, "empty_turn", "no_exchange", "wrong_role_order", None]
    assert reasons_of(StructureFilter(), table.slice(2)) == ["no_exchange", "wrong_role_order", None]


# --- LanguageFilter ------------------------------------------------------------------------------------

ENGLISH = "How can cross training benefit groups like runners, swimmers, or weightlifters?"
FOREIGN = {
    "fr": "Comment puis-je apprendre à cuisiner des plats français facilement à la maison ?",
    "de": "Wie kann ich meine Deutschkenntnisse schnell und effektiv verbessern?",
    "es": "¿Cómo puedo mejorar mi español rápidamente viviendo en el extranjero?",
    "zh-cn": "请帮我写一首关于秋天的诗，描写落叶和丰收的景象。",
    "ru": "Как я могу быстро улучшить свой русский язык, если живу за границей?",
}


def test_language_keeps_english():
    table = dialogues([ENGLISH, "It helps."])
    (out,), stats = run(LanguageFilter(), table)
    assert out.num_rows == 1
    assert stats.dropped == {}


@pytest.mark.parametrize(("code", "text"), FOREIGN.items(), ids=list(FOREIGN))
def test_language_drops_other_languages(code, text):
    f = LanguageFilter()
    reasons, details = f.drop_reasons(dialogues([text, "Sure."]))
    assert reasons.to_pylist() == ["wrong_language"]
    assert details[0].as_py().split()[0] == code


def test_language_configured_languages_keep():
    table = dialogues([FOREIGN["fr"], "Oui."], [ENGLISH, "Yes."], [FOREIGN["de"], "Ja."])
    assert reasons_of(LanguageFilter(languages=("fr",)), table) == [None, "wrong_language", "wrong_language"]
    assert reasons_of(LanguageFilter(languages=("fr", "en")), table) == [None, None, "wrong_language"]


@pytest.mark.parametrize("prompt", ["12345 !!! ???", "", "   ", "3.14 + 2 = 5.14", "🎉🎉"])
def test_language_undetectable(prompt):
    reasons, details = LanguageFilter().drop_reasons(dialogues([prompt, "A reply in English."]))
    assert reasons.to_pylist() == ["undetectable_language"]
    assert details.to_pylist() == ["no letters to classify"]


def test_language_no_user_turn_is_undetectable():
    table = dialogues([("system", "You are a helpful assistant."), ("assistant", "Hello, how can I help?")])
    assert reasons_of(LanguageFilter(), table) == ["undetectable_language"]


def test_language_only_first_user_turn_decides():
    table = dialogues(
        [ENGLISH, FOREIGN["fr"], FOREIGN["de"], FOREIGN["es"]],
        [FOREIGN["fr"], ENGLISH, ENGLISH, ENGLISH],
        [("system", FOREIGN["ru"]), ("user", ENGLISH), ("assistant", FOREIGN["fr"])],
    )
    assert reasons_of(LanguageFilter(), table) == [None, "wrong_language", None]


def test_language_prefix_chars():
    prompt = ENGLISH + " " + " ".join([FOREIGN["fr"]] * 20)
    assert reasons_of(LanguageFilter(prefix_chars=len(ENGLISH)), dialogues([prompt, "ok"])) == [None]
    assert reasons_of(LanguageFilter(), dialogues([prompt, "ok"])) == ["wrong_language"]


def _mixed_table():
    prompts = [ENGLISH, *FOREIGN.values(), "12345", "ok", "ja", "def f(x): return x", "Bonjour", "Hallo Welt"]
    return dialogues(*[[p, "reply"] for p in prompts])


def test_language_deterministic_across_runs_and_batch_splits():
    table = _mixed_table()
    first = LanguageFilter().drop_reasons(table)
    second = LanguageFilter().drop_reasons(table)
    assert first[0].to_pylist() == second[0].to_pylist()
    assert first[1].to_pylist() == second[1].to_pylist()
    for split in (1, 3, 7):
        reasons, details = [], []
        for start in range(0, table.num_rows, split):
            r, d = LanguageFilter().drop_reasons(table.slice(start, split))
            reasons += r.to_pylist()
            details += d.to_pylist()
        assert reasons == first[0].to_pylist()
        assert details == first[1].to_pylist()
    # reversing the order of the rows does not change any row's result
    reversed_table = table.take(list(range(table.num_rows))[::-1])
    assert LanguageFilter().drop_reasons(reversed_table)[1].to_pylist()[::-1] == first[1].to_pylist()


def test_language_detail_matches_detect_language():
    text = FOREIGN["de"]
    lang, prob = detect_language(text)
    _, details = LanguageFilter().drop_reasons(dialogues([text, "ok"]))
    assert details.to_pylist() == [f"{lang} (p={prob:.2f})"]


@pytest.mark.parametrize(("params", "name"), [({"languages": ()}, "languages"), ({"prefix_chars": 0}, "prefix_chars")])
def test_language_bad_parameters(params, name):
    with pytest.raises(ConfigError, match=name):
        LanguageFilter(**params)


# --- Dedup ---------------------------------------------------------------------------------------------


def prompts_table(*prompts):
    return pa.table({"id": [str(i) for i in range(len(prompts))], "prompt": list(prompts)})


@pytest.mark.parametrize(
    "duplicate",
    [
        "Hello world",  # exact
        "HELLO WORLD",
        "hello world",
        "Hello   world",
        "Hello\n\tworld",
        "  Hello world  ",
        "\nhello WORLD\n",
    ],
)
def test_dedup_normalised_duplicates(duplicate):
    (out,), stats = run(Dedup(), prompts_table("Hello world", "Something else", duplicate))
    assert out.column("id").to_pylist() == ["0", "1"]
    assert stats.dropped == {"duplicate_prompt": 1}
    assert stats.examples["duplicate_prompt"] == [{"id": "2", "prompt": duplicate}]


def test_dedup_casefold_eszett():
    (out,), _ = run(Dedup(), prompts_table("Straße", "STRASSE", "strasse"))
    assert out.column("prompt").to_pylist() == ["Straße"]


@pytest.mark.parametrize("other", ["Hello, world", "Hello worlds", "Helloworld", "Hello wörld"])
def test_dedup_keeps_different_prompts(other):
    (out,), stats = run(Dedup(), prompts_table("Hello world", other))
    assert out.num_rows == 2
    assert stats.dropped == {}


def test_dedup_state_carries_across_batches():
    dedup = Dedup()
    (first, second), stats = run(dedup, prompts_table("a", "b"), prompts_table("c", "A", "b ", "c"))
    assert first.column("prompt").to_pylist() == ["a", "b"]
    assert second.column("prompt").to_pylist() == ["c"]
    assert stats.dropped == {"duplicate_prompt": 3}


def test_dedup_first_occurrence_within_batch_and_repeats():
    (out,), stats = run(Dedup(), prompts_table("x", "x", "y", "X", "y", "z"))
    assert out.column("id").to_pylist() == ["0", "2", "5"]
    assert stats.dropped == {"duplicate_prompt": 3}


def test_dedup_setup_resets_state():
    dedup = Dedup()
    (out,), _ = run(dedup, prompts_table("a", "b"))
    assert out.num_rows == 2
    (again,), stats = run(dedup, prompts_table("a", "b"))  # run() calls setup() first
    assert again.num_rows == 2
    assert stats.dropped == {}
    # without setup() the state would carry on
    assert dedup.drop_reasons(prompts_table("a"))[0].to_pylist() == ["duplicate_prompt"]


def test_dedup_after_prompt_id_uses_first_user_turn():
    table = dialogues(
        ["Same question", "answer 1"],
        [("system", "sys"), ("user", "same  QUESTION"), ("assistant", "answer 2")],
        ["Other question", "answer 3"],
        ids=["a", "b", "c"],
    )
    (with_prompt,), _ = run(PromptId(), table)
    (out,), stats = run(Dedup(), with_prompt)
    assert out.column("id").to_pylist() == ["a", "c"]
    assert stats.examples["duplicate_prompt"] == [{"id": "b", "first_turn": "sys"}]


# --- PromptId ------------------------------------------------------------------------------------------


def _published_pairs():
    lines = (SAMPLES / "prompt_id_pairs.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_prompt_id_matches_published_pairs():
    pairs = _published_pairs()
    assert pairs
    table = dialogues(*[[p["prompt"], "answer"] for p in pairs])
    (out,), _ = run(PromptId(), table)
    assert out.column("prompt").to_pylist() == [p["prompt"] for p in pairs]
    assert out.column("prompt_id").to_pylist() == [p["prompt_id"] for p in pairs]


def test_prompt_id_skips_system_turn_and_keeps_columns():
    table = dialogues(
        [("system", "Be nice."), ("user", "First"), ("assistant", "a"), ("user", "Second")],
        [("assistant", "no user turn")],
        ["Grüße 👋", "b"],
        ids=["x", "y", "z"],
    )
    (out,), _ = run(PromptId(), table)
    assert out.column_names == ["id", "messages", "prompt", "prompt_id"]
    assert out.column("prompt").to_pylist() == ["First", None, "Grüße 👋"]
    assert out.column("prompt_id").to_pylist() == [
        hashlib.sha256(b"First").hexdigest(),
        None,
        hashlib.sha256("Grüße 👋".encode()).hexdigest(),
    ]
    assert contents(out) == contents(table)


def test_prompt_id_replaces_existing_columns():
    table = dialogues(["new prompt", "a"]).append_column("prompt", pa.array(["stale"]))
    (out,), _ = run(PromptId(), table)
    assert out.column_names == ["messages", "prompt", "prompt_id"]
    assert out.column("prompt").to_pylist() == ["new prompt"]
    (again,), _ = run(PromptId(), out)
    assert again.equals(out)


# --- base class ----------------------------------------------------------------------------------------


def test_examples_capped_per_reason_and_counts_summed_across_batches():
    n = MAX_EXAMPLES + 3
    empty = dialogues(*[["Hi", ""]] * n, ids=[f"e{i}" for i in range(n)])
    lonely = dialogues(["alone"], ["alone too"], ids=["l0", "l1"])
    good = dialogues(["Hi", "Hello"], ids=["g0"])
    (a, b, c), stats = run(StructureFilter(), empty.slice(0, 2), pa.concat_tables([empty.slice(2), lonely]), good)
    assert (a.num_rows, b.num_rows, c.num_rows) == (0, 0, 1)
    assert stats.dropped == {"empty_turn": n, "no_exchange": 2}
    assert [e["id"] for e in stats.examples["empty_turn"]] == [f"e{i}" for i in range(MAX_EXAMPLES)]
    assert [e["id"] for e in stats.examples["no_exchange"]] == ["l0", "l1"]


def test_example_first_turn_truncated():
    long = "x" * 500
    (_,), stats = run(StructureFilter(), dialogues([long, ""]))
    assert stats.examples["empty_turn"][0]["first_turn"] == "x" * EXAMPLE_CHARS + "…"


# Parameters a processor cannot do without (the rest have defaults).
REQUIRED_PARAMS = {"decontaminate": {"benchmarks": [str(SAMPLES / "truthfulqa_questions.jsonl")]}}
NON_DEFAULT_PARAMS = {
    "assistant_disclaimer_filter": {"phrases": ["as a robot"]},
    "decontaminate": {"benchmarks": [str(SAMPLES / "mt_bench_first_turns.jsonl")], "ngram": 8, "all_user_turns": True},
    "fix_text": {"unescape_html": False, "normalization": "NFKC"},
    "language_filter": {"languages": ["en", "fr"], "prefix_chars": 50, "seed": 3},
    "structure_filter": {"max_chars": 1000},
    "truecase": {"keep_words": ["npm", "git"]},
}


@pytest.mark.parametrize("name", sorted(registered_processors()))
def test_processor_from_dict_round_trips(name):
    cls = registered_processors()[name]
    for params in (REQUIRED_PARAMS.get(name, {}), NON_DEFAULT_PARAMS.get(name, {})):
        processor = processor_from_dict({name: params})
        assert type(processor) is cls
        spec = processor.to_dict()
        assert list(spec) == [name]
        for key, value in params.items():
            assert spec[name][key] == value
        # the dict is plain JSON, and reading it back gives an equal processor
        rebuilt = processor_from_dict(json.loads(json.dumps(spec)))
        assert rebuilt == processor
        assert rebuilt.to_dict() == spec


def test_processor_from_dict_bare_name_and_null_params():
    assert processor_from_dict("structure_filter") == StructureFilter()
    assert processor_from_dict({"dedup": None}) == Dedup()


def test_list_parameters_become_tuples():
    processor = processor_from_dict({"language_filter": {"languages": ["fr", "de"]}})
    assert processor.languages == ("fr", "de")


def test_unknown_processor():
    with pytest.raises(ConfigError, match="no_such_step"):
        processor_from_dict({"no_such_step": {}})


def test_unknown_parameter():
    with pytest.raises(ConfigError, match="max_char'") as info:
        processor_from_dict({"structure_filter": {"max_char": 10}})
    assert "max_chars" in str(info.value)  # the expected names are listed


@pytest.mark.parametrize(
    ("spec", "param"),
    [
        ({"language_filter": {"prefix_chars": "ten"}}, "prefix_chars"),
        ({"language_filter": {"prefix_chars": 1.5}}, "prefix_chars"),
        ({"language_filter": {"languages": "en"}}, "languages"),
        ({"language_filter": {"languages": ["en", 1]}}, "languages"),
        ({"structure_filter": {"max_chars": True}}, "max_chars"),
        ({"structure_filter": {"max_chars": "100"}}, "max_chars"),
        ({"fix_text": {"unescape_html": "yes"}}, "unescape_html"),
        ({"fix_text": {"normalization": "nfc"}}, "normalization"),
        ({"truecase": {"keep_words": "npm"}}, "keep_words"),
        ({"assistant_disclaimer_filter": {"phrases": [None]}}, "phrases"),
    ],
)
def test_wrong_typed_parameter(spec, param):
    with pytest.raises(ConfigError, match=param):
        processor_from_dict(spec)


@pytest.mark.parametrize("spec", [["dedup"], {"dedup": {}, "truecase": {}}, {}, 3, {"dedup": ["x"]}])
def test_malformed_spec(spec):
    with pytest.raises(ConfigError):
        processor_from_dict(spec)


@pytest.mark.parametrize("phrases", [(), ("",), ("ok", "  ")])
def test_disclaimer_filter_refuses_empty_phrase_lists(phrases):
    with pytest.raises(ConfigError, match="phrases"):
        AssistantDisclaimerFilter(phrases=phrases)


def test_dedup_never_drops_rows_without_a_prompt():
    table = pa.table({"prompt": pa.array([None, "x", None, "X"], pa.string())})
    dedup = Dedup()
    dedup.setup()
    assert reasons_of(dedup, table) == [None, None, None, "duplicate_prompt"]


def test_language_filter_refuses_unknown_language_codes():
    with pytest.raises(ConfigError, match="unknown code 'english'"):
        LanguageFilter(languages=("en", "english"))
    assert LanguageFilter(languages=("zh-cn", "fr")).languages == ("zh-cn", "fr")


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(max_size=40),
            st.text(st.sampled_from(list("aAzZ \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u3000ßİK.ǅ")), max_size=9),
        ),
        max_size=12,
    )
)
def test_dedup_batch_normalisation_equals_normalise_prompt(prompts):
    from distill_data.processors.dedup import normalised_prompts

    expected = [None if p is None else normalise_prompt(p) for p in prompts]
    assert normalised_prompts(pa.array(prompts, pa.string())) == expected
    halves = pa.chunked_array([pa.array(prompts[:3], pa.string()), pa.array(prompts[3:], pa.string())])
    assert normalised_prompts(halves) == expected
