"""Decontaminate: drop rows whose prompt matches a benchmark prompt (exactly, or by a shared word n-gram).

Training on benchmark prompts inflates evaluation scores; the published UltraFeedback binarization shipped the
TruthfulQA prompts. The benchmark sets are read once into an index (normalised prompts, and the set of their word
n-grams, also as sorted 64-bit hashes); a whole batch is then checked against it with Arrow kernels and numpy.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ConfigError, InputError
from ..messages import as_list_array
from ..sources.formats import Parquet, format_of, stem, supported_types
from ..sources.hub_ids import hub_unreachable, looks_like_hub_id, offline_failure
from ..sources.inputs import InputFile, input_file, lone_surrogate, read_records
from .base import Filter

PROMPT_FIELDS = ("prompt", "question", "Question", "instruction", "turns", "turn", "text")
_NON_WORD = re.compile(r"[^\w]+")
_NON_WORD_RE2 = r"[^\p{L}\p{N}_ ]+"  # the same class (and the space) in RE2 syntax, for Arrow kernels
_BITMAP_MASK = np.uint64((1 << 20) - 1)
_TEXT_BYTES_PER_RUN = 1 << 21
# Bytes of UTF-8 text: ASCII uppercase letters lowercased, ASCII letters, digits and "_" kept, other ASCII bytes
# made spaces, bytes of non-ASCII characters (128 and up) left alone.
_ASCII_WORDS = bytes(
    (b + 32 if 65 <= b <= 90 else b) if b >= 128 or chr(b).isalnum() or b == 95 else 32 for b in range(256)
)


def words(text: str) -> list[str]:
    """Lowercased words, punctuation removed: the form both sides are compared in."""
    return _NON_WORD.sub(" ", text.lower()).split()


def _prompts_of(row: Any) -> list[str]:
    if not isinstance(row, dict):  # a JSON row that is not an object has no prompt field
        return []
    for key in PROMPT_FIELDS:
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            return [value]
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return list(value)
    return []


def load_benchmark(spec: str) -> tuple[str, list[str]]:
    """``(name, prompts)`` of a benchmark file (.jsonl, .json, .csv, .parquet) or Hub id (``owner/name[:split]``).

    The prompt of a row is its first field among prompt, question, Question, instruction, turns (every turn),
    turn, text.
    """
    rows: list[dict[str, Any]]
    file = input_file(spec)
    if file is not None:
        name = stem(file.path)
        file_format = format_of(file.path)
        if file.path.suffix == ".csv":
            rows = _csv_rows(file, spec)
        elif isinstance(file_format, Parquet):
            try:
                rows = file_format.table(file).to_pylist()
            except (OSError, ValueError) as exc:  # pyarrow's errors, text that is not UTF-8
                raise InputError(f"not a readable Parquet file: {exc}", file=spec) from None
        elif file_format is not None:
            rows = _format_rows(file)
        else:
            raise InputError(f"unsupported benchmark file type; use {supported_types()} or .csv", file=spec)
    elif looks_like_hub_id(spec):
        import datasets

        repo_id, _, split = spec.partition(":")
        name = repo_id
        unreachable = hub_unreachable(repo_id)
        if unreachable is not None:
            raise InputError(unreachable, file=spec)
        try:
            rows = list(datasets.load_dataset(repo_id, split=split or "test"))
        except (FileNotFoundError, ValueError, ConnectionError, OSError) as exc:
            raise InputError(offline_failure(exc) or f"could not load this benchmark: {exc}", file=spec) from None
    else:
        raise InputError("no such benchmark file or Hub id", file=spec)
    prompts = [prompt for row in rows for prompt in _prompts_of(row)]
    if not prompts:
        raise InputError(f"no prompts found (looked for the fields {', '.join(PROMPT_FIELDS)})", file=spec)
    return name, prompts


def _csv_rows(file: InputFile, spec: str) -> list[dict[str, Any]]:
    with file.open_raw() as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        try:
            return list(reader)
        except csv.Error as exc:
            where = f"line {reader.line_num + 1}"  # the line being read when it failed
            raise InputError(f"not a readable CSV file: {exc}", file=spec, location=where) from None
        except UnicodeDecodeError as exc:  # decoded ahead in blocks: the line is not known
            raise InputError(f"not UTF-8 text: {exc.reason}", file=spec) from None


def _format_rows(file: InputFile) -> list[Any]:
    """The rows of a file in an input format (JSON or JSON Lines, compressed or not, ...), read as inputs are: a
    bad line, or a prompt that is not valid Unicode (a lone surrogate escape), is an error naming the file and the
    line."""
    rows = []
    for record in read_records(file):
        if record.error is not None:
            raise InputError(record.error, file=record.file, location=record.location)
        for prompt in _prompts_of(record.value):
            position = lone_surrogate(prompt)
            if position is not None:
                reason = f"lone surrogate at character {position} of a prompt is not valid Unicode"
                raise InputError(reason, file=record.file, location=record.location)
        rows.append(record.value)
    return rows


@dataclass
class Decontaminate(Filter):
    """Drop rows whose ``prompt`` equals a benchmark prompt after normalisation (reason ``benchmark_exact``) or
    shares at least ``min_shared`` word ``ngram``-grams with one (reason ``benchmark_ngram``; the detail names the
    benchmark and the n-gram). With ``all_user_turns`` every user turn of ``messages`` is checked instead.
    """

    name: ClassVar[str] = "decontaminate"

    benchmarks: tuple[str, ...] = ()
    ngram: int = 13
    min_shared: int = 1
    all_user_turns: bool = False
    _index: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.benchmarks:
            raise ConfigError("parameter 'benchmarks' must name at least one benchmark file or Hub id")
        if self.ngram < 1 or self.min_shared < 1:
            raise ConfigError("parameters 'ngram' and 'min_shared' must be positive")

    @property
    def inputs(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("messages",) if self.all_user_turns else ("prompt",)

    def input_files(self) -> tuple[str, ...]:
        return self.benchmarks

    def setup(self) -> None:
        if self._index is None:
            exact: dict[str, str] = {}
            grams: dict[tuple[str, ...], str] = {}
            for spec in self.benchmarks:
                name, prompts = load_benchmark(spec)
                for tokens in word_lists(pa.array(prompts, pa.string())).to_pylist():
                    tokens = [token for token in tokens if token]
                    if tokens:
                        exact.setdefault(" ".join(tokens), name)
                    for i in range(len(tokens) - self.ngram + 1):
                        grams.setdefault(tuple(tokens[i : i + self.ngram]), name)
            vocabulary = sorted({token for gram in grams for token in gram})
            word_ids = {word: i for i, word in enumerate(vocabulary)}
            codes = np.fromiter((word_ids[t] + 1 for gram in grams for t in gram), np.int64, len(grams) * self.ngram)
            hashes = np.unique(_window_hashes(codes, self.ngram)[:: self.ngram])
            bits = np.zeros(_BITMAP_MASK + 1, bool)
            bits[hashes & _BITMAP_MASK] = True
            self._index = {
                "exact": pa.array(list(exact), pa.string()),
                "exact_names": list(exact.values()),
                "grams": grams,
                "vocabulary": pa.array(vocabulary, pa.string()),
                "gram_hashes": hashes,
                "gram_bits": bits,
            }

    def drop_reasons(self, table: pa.Table) -> tuple[pa.Array, pa.Array | None]:
        """Whole-batch matching: the texts are split into words and mapped to word ids by Arrow kernels, every
        window of ``ngram`` words is hashed with numpy and looked up in the sorted hashes of the benchmark
        n-grams; only the hits are checked word by word in Python. Texts go in runs of about 2 MB, so the
        working arrays stay small whatever the batch size."""
        self.setup()
        texts, owners = self._texts(table)
        reasons = np.full(len(table), None, dtype=object)
        details = np.full(len(table), None, dtype=object)
        ends = np.cumsum(pc.binary_length(texts).fill_null(0).to_numpy())
        start = 0
        while start < len(texts):
            limit = ends[start - 1] + _TEXT_BYTES_PER_RUN if start else _TEXT_BYTES_PER_RUN
            stop = max(int(np.searchsorted(ends, limit, side="right")), start + 1)
            found = self._matches(pa.concat_arrays([texts.slice(start, stop - start)]))
            for text in sorted(found):  # texts are in row order, turns in order: the first match of a row wins
                row = int(owners[start + text])
                if reasons[row] is None:
                    reasons[row], details[row] = found[text]
            start = stop
        return pa.array(reasons, pa.string()), pa.array(details, pa.string())

    def _matches(self, texts: pa.Array) -> dict[int, tuple[str, str]]:
        """Text number -> (reason, detail) for the texts that match, an exact match first."""
        assert self._index is not None
        tokens = word_lists(texts)
        exact = pc.index_in(pc.binary_join(tokens, " "), value_set=self._index["exact"]).fill_null(-1).to_numpy()
        found = {
            text: ("benchmark_exact", self._index["exact_names"][exact[text]])
            for text in np.flatnonzero(exact >= 0).tolist()
        }
        for text, detail in self._ngram_matches(tokens).items():
            found.setdefault(text, ("benchmark_ngram", detail))
        return found

    def _ngram_matches(self, tokens: pa.ListArray) -> dict[int, str]:
        """Texts sharing at least ``min_shared`` n-grams with a benchmark -> detail naming the first one."""
        index = self._index
        assert index is not None
        flat = pc.list_flatten(tokens)
        if len(flat) < self.ngram or not len(index["gram_hashes"]):
            return {}
        parents = pc.list_parent_indices(tokens).to_numpy()
        codes = pc.index_in(flat, value_set=index["vocabulary"]).fill_null(-1).to_numpy().astype(np.int64) + 1
        hashes = _window_hashes(codes, self.ngram)
        # A window (unknown words have code 0, which no benchmark n-gram has) is looked up when it lies in one
        # text and the 1 MB bitmap of benchmark hashes has its bit set: only those few are searched.
        one_text = parents[: len(hashes)] == parents[self.ngram - 1 :]
        starts = np.flatnonzero(one_text & index["gram_bits"][hashes & _BITMAP_MASK])
        known = index["gram_hashes"]
        position = np.minimum(np.searchsorted(known, hashes[starts]), len(known) - 1)
        starts = starts[known[position] == hashes[starts]]
        shared: dict[int, int] = {}
        matches: dict[int, str] = {}
        for start in starts.tolist():
            gram = tuple(flat[start : start + self.ngram].to_pylist())
            name = index["grams"].get(gram)
            if name is None:  # a hash collision
                continue
            text = int(parents[start])
            shared[text] = shared.get(text, 0) + 1
            matches.setdefault(text, f"{name}: '{' '.join(gram)}'")
        return {text: detail for text, detail in matches.items() if shared[text] >= self.min_shared}

    def _texts(self, table: pa.Table) -> tuple[pa.Array, np.ndarray]:
        """The texts to check (the prompt, or every user turn) and the row each belongs to."""
        if not self.all_user_turns:
            return _as_array(table.column("prompt")), np.arange(len(table))
        lists = as_list_array(table.column("messages"))
        turns = lists.flatten()
        user = pc.fill_null(pc.equal(turns.field("role"), "user"), False)
        parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
        return _as_array(turns.field("content").filter(user)), parents[user.to_numpy(zero_copy_only=False)]


def _as_array(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One contiguous ``string`` array (large strings are cast: the index holds plain strings)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column.cast(pa.string()) if column.type != pa.string() else column


def word_lists(texts: pa.Array) -> pa.ListArray:
    """:func:`words` of every text of a column (null stays null). One ``bytes.translate`` of the whole data buffer
    lowercases ASCII letters and turns ASCII punctuation into spaces; only when some text is not ASCII do Arrow's
    Unicode lowercase and a regex (matching the rare non-ASCII punctuation) run."""
    validity, offsets, data = texts.buffers()
    if data is None or not data.size:
        return pc.ascii_split_whitespace(pc.ascii_trim_whitespace(texts))
    translated = pa.py_buffer(data.to_pybytes().translate(_ASCII_WORDS))
    spaced = pa.Array.from_buffers(texts.type, len(texts), [validity, offsets, translated], offset=texts.offset)
    if not pc.all(pc.fill_null(pc.string_is_ascii(spaced), True)).as_py():
        spaced = pc.replace_substring_regex(pc.utf8_lower(spaced), pattern=_NON_WORD_RE2, replacement=" ")
    # Only single-byte spaces separate words now; Arrow gives an empty text one empty word.
    return pc.ascii_split_whitespace(pc.ascii_trim_whitespace(spaced))


def _window_hashes(codes: np.ndarray, ngram: int) -> np.ndarray:
    """A 64-bit hash of the ``ngram`` word codes from every start (a wrapping polynomial, then mixed)."""
    count = len(codes) - ngram + 1
    words = codes.astype(np.uint64)
    h = np.zeros(max(count, 0), np.uint64)
    for k in range(ngram):
        h *= np.uint64(0x100000001B3)
        h += words[k : k + count]
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    return h ^ (h >> np.uint64(33))
