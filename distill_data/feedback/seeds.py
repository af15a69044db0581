"""Seeded choices that depend on what is chosen for, never on order: sha256 of the seed and the parts."""

from __future__ import annotations

import hashlib


def unit(seed: int, *parts: str) -> float:
    """A uniform number in [0, 1) from sha256(seed, parts): the same for the same inputs, in any order of work."""
    digest = hashlib.sha256("\x00".join([str(seed), *parts]).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def request_seed(seed: int, *parts: str) -> int:
    """A 31-bit seed for one request (servers take a signed 32-bit or 64-bit integer)."""
    return int(unit(seed, "request-seed", *parts) * 2**31)
