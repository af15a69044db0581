"""NearDedup: drop prompts that are near-duplicates of an earlier prompt (MinHash LSH on character shingles).

Exact dedup misses prompts that differ by a word, a typo or punctuation; such paraphrases over-weight one
instruction in training. Each prompt becomes a set of character ``ngram``-shingles of its normalised text
(lowercased, every run of characters other than letters, digits and marks replaced by one space). Characters
rather than words because prompts are short: a 12-word prompt has only 8 word 5-grams, and one changed word
changes most of them.

The MinHash is datasketch's ``affine32`` scheme (its permutations for ``seed``); the signatures of a whole batch
are computed at once with numpy (equal to ``datasketch.MinHash.update_batch`` over the same shingle hashes, which
the tests check). The band layout is datasketch's ``MinHashLSH`` choice for ``threshold`` and ``num_perm``.
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ConfigError
from .base import MAX_CLUSTER_ROWS, Filter, Processor, StepStats, apply_drops
from .requires import Requirement, check_installed

MAX_CLUSTERS = 100  # clusters listed in provenance (the counters count them all)
_SHINGLES_PER_CHUNK = 1 << 16  # shingles permuted at once (256 KB of uint32)
_BLOCK = 4096  # representative signatures are stored in blocks of this many rows
_MAX_RUN = 1 << 22  # bucket pairs in one sorted run (32 MB); longer runs are not merged further
_NON_WORD = r"[^\p{L}\p{N}\p{M}]+"
_POLY = np.uint64(0x100000001B3)
_U32 = np.uint32
_U64 = np.uint64


# Weights of false positives and false negatives when datasketch picks the bands. Every candidate is checked
# against the kept signature, so a false positive costs one comparison while a false negative keeps a duplicate:
# at threshold 0.85 these weights find 93% of pairs at the threshold and 98% at 0.88 (equal weights: 46%, 67%).
LSH_WEIGHTS = (0.05, 0.95)


@functools.cache
def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """``(bands, rows per band)`` as datasketch's ``MinHashLSH`` picks them with :data:`LSH_WEIGHTS`."""
    from datasketch import MinHashLSH

    try:
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=LSH_WEIGHTS)
    except ValueError as exc:
        raise ConfigError(f"threshold {threshold} with num_perm {num_perm} gives no usable LSH bands: {exc}") from None
    return lsh.b, lsh.r


@functools.cache
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` uint32 arrays of datasketch's affine32 MinHash for this seed."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return a.astype(_U32), b.astype(_U32)


def normalise(prompts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Lowercased, every run of characters that are not letters, digits or marks replaced by one space."""
    spaced = pc.replace_substring_regex(pc.utf8_lower(prompts), pattern=_NON_WORD, replacement=" ")
    return pc.utf8_trim(spaced, characters=" ")


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> _U64(33))


def _fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> _U32(16))
    h = h * _U32(0x85EBCA6B)
    h = h ^ (h >> _U32(13))
    h = h * _U32(0xC2B2AE35)
    return h ^ (h >> _U32(16))


def shingle_hash_64(shingle: str) -> int:
    """The 64-bit polynomial hash of one shingle (wrapping uint64 arithmetic), before mixing."""
    h = 0
    for char in shingle:
        h = (h * int(_POLY) + ord(char) + 1) & 0xFFFFFFFFFFFFFFFF
    return h


def shingle_hash(shingle: str) -> int:
    """The 32-bit hash of one shingle, as :func:`signatures` computes it for a whole batch (for
    ``datasketch.MinHash(hashfunc=shingle_hash)``)."""
    return int(_fmix64(np.array([shingle_hash_64(shingle)], _U64))[0] >> _U64(32))


def signatures(
    texts: pa.Array | pa.ChunkedArray, num_perm: int, ngram: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures of normalised texts: a ``(rows, num_perm)`` uint32 matrix and a mask of the rows that
    have at least one shingle (null and empty texts have none; a text shorter than ``ngram`` is one shingle).

    Rows are taken in groups of about ``_SHINGLES_PER_CHUNK`` shingles, so the working arrays stay small (and in
    cache) whatever the batch size.
    """
    pieces = texts.fill_null("").to_pylist()
    lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
    counts = np.where(lengths > 0, np.maximum(lengths - ngram + 1, 1), 0)
    ends = np.cumsum(counts)
    a, b = permutations(num_perm, seed)
    result = np.empty((len(pieces), num_perm), _U32)
    start = 0
    while start < len(pieces):
        limit = ends[start] - counts[start] + _SHINGLES_PER_CHUNK
        stop = max(int(np.searchsorted(ends, limit, side="right")), start + 1)
        hashes = _shingle_hashes(pieces[start:stop], lengths[start:stop], counts[start:stop], ngram)
        result[start:stop] = _minima(hashes, counts[start:stop], a, b)
        start = stop
    return result, counts > 0


def _shingle_hashes(pieces: list[str], lengths: np.ndarray, counts: np.ndarray, ngram: int) -> np.ndarray:
    """The fmix32-mixed hash of every shingle, in row order (what datasketch's affine32 MinHash permutes)."""
    codes = np.frombuffer("".join(pieces).encode("utf-32-le"), dtype=_U32).astype(_U64)
    long_enough = lengths >= ngram
    windows = np.where(long_enough, counts, 0)
    positions = np.arange(int(windows.sum())) + np.repeat(
        np.cumsum(lengths) - lengths - np.cumsum(windows) + windows, windows
    )
    window_hashes = np.zeros(len(positions), _U64)
    for k in range(ngram):
        window_hashes = window_hashes * _POLY + codes[positions + k] + _U64(1)
    hashes = np.empty(int(counts.sum()), _U64)
    whole = np.repeat(~long_enough, counts)  # the one shingle of a text shorter than ngram: the whole text
    hashes[~whole] = window_hashes
    short_rows = np.flatnonzero((lengths > 0) & ~long_enough).tolist()
    hashes[whole] = np.array([shingle_hash_64(pieces[row]) for row in short_rows], _U64)
    return _fmix32((_fmix64(hashes) >> _U64(32)).astype(_U32))


def _minima(hashes: np.ndarray, counts: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row, the minimum of ``a * hash + b`` (mod 2**32) over its shingles, for every permutation ``(a, b)``."""
    rows = np.repeat(np.arange(len(counts)), counts)
    minima = np.full((len(a), len(counts)), np.iinfo(_U32).max, dtype=_U32)
    permuted = np.empty(min(len(hashes), _SHINGLES_PER_CHUNK), _U32)
    for lo in range(0, len(hashes), _SHINGLES_PER_CHUNK):  # more than one pass only for one very long text
        chunk, chunk_rows = hashes[lo : lo + _SHINGLES_PER_CHUNK], rows[lo : lo + _SHINGLES_PER_CHUNK]
        boundaries = np.flatnonzero(np.r_[True, chunk_rows[1:] != chunk_rows[:-1]])
        owners = chunk_rows[boundaries]
        out = permuted[: len(chunk)]
        # One permutation at a time over a cache-sized run of shingles: the fastest layout numpy offers here.
        for k in range(len(a)):
            np.multiply(chunk, a[k], out=out)
            np.add(out, b[k], out=out)
            minima[k, owners] = np.minimum(minima[k, owners], np.minimum.reduceat(out, boundaries))
    return minima.T


def band_keys(signature_rows: np.ndarray, bands: int, rows_per_band: int) -> np.ndarray:
    """Per row, one 60-bit key per band, ``(rows, bands)`` uint64 (the band number is part of the key, so one
    table holds every band)."""
    keys = np.empty((len(signature_rows), bands), _U64)
    for band in range(bands):
        h = np.full(len(signature_rows), band + 1, _U64)
        for column in range(band * rows_per_band, (band + 1) * rows_per_band):
            h = (h ^ signature_rows[:, column]) * _POLY
        keys[:, band] = _fmix64(h) >> _U64(4)
    return keys


class _Labels:
    """Labels of the kept rows in one byte buffer: a sha256 hex ``prompt_id`` takes 33 bytes (tag and digest),
    any other label its UTF-8 bytes and a tag, plus an 8-byte end offset (a list of str costs about 120)."""

    _HEX, _TEXT = 0, 1

    def __init__(self) -> None:
        self.data = bytearray()
        self.ends = array("Q")

    def __len__(self) -> int:
        return len(self.ends)

    def append(self, label: str) -> None:
        digest = _hex_digest(label) if len(label) == 64 else None
        if digest is not None:
            self.data.append(self._HEX)
            self.data += digest
        else:
            self.data.append(self._TEXT)
            self.data += label.encode("utf-8", "surrogatepass")
        self.ends.append(len(self.data))

    def __getitem__(self, kept: int) -> str:
        start = self.ends[kept - 1] if kept else 0
        payload = self.data[start + 1 : self.ends[kept]]
        return payload.hex() if self.data[start] == self._HEX else payload.decode("utf-8", "surrogatepass")

    def nbytes(self) -> int:
        return len(self.data) + self.ends.itemsize * len(self.ends)


def _hex_digest(label: str) -> bytes | None:
    """The bytes ``label`` is the lowercase hex of, if it is exactly that."""
    try:
        digest = bytes.fromhex(label)
    except ValueError:
        return None
    return digest if digest.hex() == label else None


@dataclass
class _Index:
    """The kept prompts: their signatures (in blocks), labels, and LSH buckets.

    The buckets are sorted runs of ``(low 32 bits of a band key, kept row)`` pairs (8 bytes per band instead of a
    dict entry and two Python ints, about 90). A 32-bit match is confirmed by recomputing the kept row's 60-bit
    band keys from its signature, so the candidates are exactly the kept rows sharing a full band key, as with a
    dict of full keys. A batch's kept rows become one run; equal-sized runs are merged (binary-counter style,
    up to :data:`_MAX_RUN` pairs), so a lookup searches a few runs and a merge never copies the whole index.
    The runs are not pickled: they are rebuilt from the signatures on unpickling.
    """

    num_perm: int
    bands: int
    rows_per_band: int
    blocks: list[np.ndarray] = field(default_factory=list)
    labels: _Labels = field(default_factory=_Labels)
    runs: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (uint32 keys sorted, uint32 rows)
    has_duplicates: bytearray = field(default_factory=bytearray)
    tracked: dict[int, str] = field(default_factory=dict)  # kept rows whose clusters go to provenance
    rows_seen: int = 0

    def __len__(self) -> int:
        return len(self.has_duplicates)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "runs": []}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        for start in range(0, len(self), _BLOCK):
            stop = min(start + _BLOCK, len(self))
            block = self.blocks[start // _BLOCK][: stop - start]
            self.add_keys(band_keys(block, self.bands, self.rows_per_band), np.arange(start, stop))

    def signature(self, kept: int) -> np.ndarray:
        return self.blocks[kept // _BLOCK][kept % _BLOCK]

    def signatures_of(self, kept: np.ndarray) -> np.ndarray:
        result = np.empty((len(kept), self.num_perm), _U32)
        block_of = kept // _BLOCK
        for block in np.unique(block_of).tolist():
            rows = block_of == block
            result[rows] = self.blocks[block][kept[rows] % _BLOCK]
        return result

    def candidates(self, keys: np.ndarray) -> dict[int, set[int]]:
        """For each query row (of ``keys``, ``(rows, bands)`` full band keys) that has any, the kept rows with one
        of its band keys among theirs."""
        flat = keys.ravel()
        short = flat.astype(_U32)
        queries, found = [], []
        for run_keys, run_rows in self.runs:
            lo = np.searchsorted(run_keys, short, side="left")
            hi = np.searchsorted(run_keys, short, side="right")
            hits = np.flatnonzero(hi > lo)
            if len(hits):
                counts = (hi - lo)[hits]
                queries.append(np.repeat(hits, counts))
                starts = np.repeat(lo[hits] - np.cumsum(counts) + counts, counts)
                found.append(run_rows[starts + np.arange(counts.sum())])
        if not queries:
            return {}
        query, kept = np.concatenate(queries), np.concatenate(found).astype(np.int64)
        their_keys = band_keys(self.signatures_of(kept), self.bands, self.rows_per_band)
        confirmed = (their_keys == flat[query][:, None]).any(axis=1)
        result: dict[int, set[int]] = {}
        for row, other in zip((query[confirmed] // self.bands).tolist(), kept[confirmed].tolist(), strict=True):
            result.setdefault(row, set()).add(other)
        return result

    def add(self, signature: np.ndarray, label: str) -> int:
        """Remember a kept row's signature and label (its keys come with :meth:`add_keys`); its number."""
        kept = len(self)
        if kept % _BLOCK == 0:
            self.blocks.append(np.empty((_BLOCK, self.num_perm), _U32))
        self.blocks[-1][kept % _BLOCK] = signature
        self.labels.append(label)
        self.has_duplicates.append(0)
        return kept

    def add_keys(self, keys: np.ndarray, kept: np.ndarray) -> None:
        """Put the band keys (``(rows, bands)``) of the kept rows ``kept`` in the buckets, as one new run."""
        if not len(kept):
            return
        short = keys.ravel().astype(_U32)
        order = np.argsort(short, kind="stable")
        self.runs.append((short[order], np.repeat(kept.astype(_U32), self.bands)[order]))
        while len(self.runs) > 1:
            older, newer = len(self.runs[-2][0]), len(self.runs[-1][0])
            if older > newer or older + newer > _MAX_RUN:
                break
            newer_run = self.runs.pop()
            self.runs[-1] = _merge(self.runs[-1], newer_run)

    def nbytes(self) -> int:
        """Bytes held for the kept rows: signatures, buckets, labels and flags (not the fixed overheads)."""
        buckets = sum(keys.nbytes + rows.nbytes for keys, rows in self.runs)
        return sum(block.nbytes for block in self.blocks) + buckets + self.labels.nbytes() + len(self)


def _shared_keys(keys: np.ndarray) -> dict[int, list[int]]:
    """For each row of ``keys`` (``(rows, bands)``) with a band key another row also has, a number for each such
    key (equal keys, equal numbers)."""
    flat = keys.ravel()
    order = np.argsort(flat, kind="stable")
    same = flat[order][1:] == flat[order][:-1]
    if not same.any():
        return {}
    shared = np.zeros(len(flat), bool)
    shared[1:] |= same
    shared[:-1] |= same
    numbers = np.cumsum(np.r_[False, ~same])
    result: dict[int, list[int]] = {}
    for position, number in zip((order[shared] // keys.shape[1]).tolist(), numbers[shared].tolist(), strict=True):
        result.setdefault(position, []).append(number)
    return result


def _merge(older: tuple[np.ndarray, np.ndarray], newer: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Two sorted runs as one (no sort: the newer pairs' places come from a binary search in the older run)."""
    places = np.searchsorted(older[0], newer[0], side="right") + np.arange(len(newer[0]))
    size = len(older[0]) + len(newer[0])
    keys, rows = np.empty(size, _U32), np.empty(size, _U32)
    rest = np.ones(size, bool)
    rest[places] = False
    keys[places], rows[places] = newer
    keys[rest], rows[rest] = older
    return keys, rows


@dataclass
class NearDedup(Filter):
    """Drop rows whose ``prompt`` is a near-duplicate of an earlier kept prompt: estimated Jaccard similarity of
    their character ``ngram``-shingle sets at least ``threshold`` (reason ``near_duplicate``; the detail names the
    kept row, by ``prompt_id`` when the table has one, else ``row N``, its 0-based position in this step's input,
    and the estimate).

    Candidates come from MinHash LSH buckets and are then checked against the kept row's signature, so the
    threshold is applied to the estimate, not only to the banding. The first row of a cluster is kept and later
    rows are compared with kept rows only. Rows are seen in input order, so the same rows are dropped whatever
    the batch size. Memory holds no text: per kept prompt its signature (``4 * num_perm`` bytes), an 8-byte bucket
    pair per LSH band and its label (41 bytes for a ``prompt_id``): 650 bytes at the defaults (see :class:`_Index`).
    Provenance gets ``counters.clusters`` (kept prompts with at least one near-duplicate) and, for the first 100
    such clusters, the kept row, the number dropped and the first 20 dropped rows (``clusters``).
    """

    name: ClassVar[str] = "near_dedup"
    inputs: ClassVar[tuple[str, ...]] = ("prompt",)
    requires: ClassVar[tuple[Requirement, ...]] = (Requirement("datasketch"),)
    stateful: ClassVar[bool] = True
    drops_near_duplicates: ClassVar[bool] = True

    threshold: float = 0.85
    num_perm: int = 128
    ngram: int = 5
    seed: int = 42
    _index: _Index | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.threshold <= 1:
            raise ConfigError(f"parameter 'threshold' must be in (0, 1], got {self.threshold}")
        if self.num_perm < 2:
            raise ConfigError(f"parameter 'num_perm' must be at least 2, got {self.num_perm}")
        if self.ngram < 1:
            raise ConfigError(f"parameter 'ngram' must be positive, got {self.ngram}")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"parameter 'seed' must be in [0, 2**32), got {self.seed}")
        check_installed(self.requires, self.name)  # the band layout below is datasketch's
        lsh_bands(float(self.threshold), self.num_perm)

    def card_notes(self, steps: Sequence[Processor]) -> tuple[str, ...]:
        return (
            f"Near-duplicates were removed: a prompt whose character {self.ngram}-gram set has an estimated Jaccard "
            f"similarity of at least {self.threshold} to an earlier kept prompt's (MinHash, {self.num_perm} "
            "permutations) was dropped; near the threshold the estimate can keep or drop a pair either way.",
        )

    def setup(self) -> None:
        self._index = _Index(self.num_perm, *lsh_bands(float(self.threshold), self.num_perm))

    def process(self, table: pa.Table, stats: StepStats) -> pa.Table:
        reasons, details = self._drop_reasons(table, stats)
        return apply_drops(table, stats, reasons, details)

    def drop_reasons(self, table: pa.Table) -> tuple[pa.Array, pa.Array | None]:
        """As :meth:`process` decides (and remembering the kept rows), without counting the clusters anywhere."""
        return self._drop_reasons(table, StepStats(self.name))

    def _drop_reasons(self, table: pa.Table, stats: StepStats) -> tuple[pa.Array, pa.Array]:
        if self._index is None:
            self.setup()
        index = self._index
        assert index is not None
        sigs, has_text = signatures(normalise(table.column("prompt")), self.num_perm, self.ngram, self.seed)
        text_rows = np.flatnonzero(has_text)
        keys = band_keys(sigs[text_rows], index.bands, index.rows_per_band)
        ids = table.column("prompt_id").to_pylist() if "prompt_id" in table.column_names else None
        first_row, index.rows_seen = index.rows_seen, index.rows_seen + len(table)

        def label(row: int) -> str:
            return str(ids[row]) if ids is not None and ids[row] is not None else f"row {first_row + row}"

        reasons = np.full(len(table), None, dtype=object)
        details = np.full(len(table), None, dtype=object)
        earlier = index.candidates(keys)  # kept in earlier batches
        shared = _shared_keys(keys)  # keys shared within this batch -> the rows of it kept so far with that key
        kept_with: dict[int, list[int]] = {}
        kept_here: list[int] = []
        for position, row in enumerate(text_rows.tolist()):
            found = earlier.get(position) or set()
            for key in shared.get(position, ()):
                found.update(kept_with.get(key, ()))
            best, similarity = self._most_similar(index, sigs[row], found) if found else (None, 0.0)
            if best is None:
                kept = index.add(sigs[row], label(row))
                kept_here.append(position)
                for key in shared.get(position, ()):
                    kept_with.setdefault(key, []).append(kept)
                continue
            reasons[row] = "near_duplicate"
            details[row] = f"near-duplicate of {index.labels[best]} (estimated Jaccard {similarity:.2f})"
            self._record_cluster(index, stats, best, label(row))
        index.add_keys(keys[kept_here], np.arange(len(index) - len(kept_here), len(index)))
        return pa.array(reasons, pa.string()), pa.array(details, pa.string())

    def _most_similar(self, index: _Index, signature: np.ndarray, candidates: set[int]) -> tuple[int | None, float]:
        """The kept row most similar to ``signature`` (the earliest on ties), if at least ``threshold``."""
        best, matches = None, -1
        for kept in sorted(candidates):
            same = int(np.count_nonzero(index.signature(kept) == signature))
            if same > matches:
                best, matches = kept, same
        similarity = matches / self.num_perm
        return (best, similarity) if best is not None and similarity >= self.threshold else (None, similarity)

    @staticmethod
    def _record_cluster(index: _Index, stats: StepStats, kept: int, dropped: str) -> None:
        if not index.has_duplicates[kept]:
            index.has_duplicates[kept] = 1
            stats.count("clusters", 1)
            if len(index.tracked) < MAX_CLUSTERS:
                index.tracked[kept] = index.labels[kept]
        label = index.tracked.get(kept)
        if label is None:
            return
        cluster = stats.clusters.setdefault(label, {"dropped": 0, "dropped_rows": []})
        cluster["dropped"] += 1
        if len(cluster["dropped_rows"]) < MAX_CLUSTER_ROWS:
            cluster["dropped_rows"].append(dropped)
