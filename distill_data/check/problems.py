"""What can be wrong with a row once it is rendered the way the trainer renders it, and the checks that find it.

Each check looks at one batch of rows of one kind: SFT conversations (``messages``) or preference pairs
(``chosen``/``rejected``, which our trainer hands TRL's DPOTrainer with an implicit prompt: TRL's
``extract_prompt`` takes the turns both share as the prompt). A ``*_gen`` split holds generation prompts: they
are rendered with ``add_generation_prompt=True`` and have no response to check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .render import Conversation, Encoded, Renderer


@dataclass(frozen=True)
class Kind:
    name: str
    blocking: bool  # the length kinds block only with --strict
    summary: str


KINDS = {
    kind.name: kind
    for kind in (
        Kind("doubled_bos", True, "two BOS tokens at the start"),
        Kind("doubled_eos", True, "two end-of-turn tokens close an assistant turn"),
        Kind("missing_eos", True, "an assistant turn without an end-of-turn token (the model never learns to stop)"),
        Kind("missing_generation_markers", True, "assistant-only loss without a {% generation %} mask"),
        Kind("prompt_mismatch", True, "chosen and rejected do not share the rendered prompt"),
        Kind("empty_response", True, "an empty or whitespace-only assistant turn"),
        Kind("render_error", True, "the chat template cannot render the row"),
        Kind("over_max_length", False, "longer than the max length: the trainer truncates it"),
        Kind("prompt_over_max_length", False, "the prompt alone reaches the max length: DPOTrainer drops the row"),
    )
}
LENGTH_KINDS = frozenset({"over_max_length", "prompt_over_max_length"})
_TEXT_ONLY = "TRL's conversational path is not affected (--allow it if nothing else tokenizes the text)"


@dataclass(frozen=True)
class Problem:
    kind: str
    detail: str


@dataclass
class RowResult:
    """The tokens the trainer sees for a row (the longer sequence of a pair) and what is wrong with it."""

    length: int | None = None
    problems: list[Problem] = field(default_factory=list)

    def add(self, kind: str, detail: str) -> None:
        if all(p.kind != kind for p in self.problems):  # one entry per kind and row: counts are rows
            self.problems.append(Problem(kind, detail))


@dataclass(frozen=True)
class Settings:
    max_length: int
    assistant_only_loss: bool = False


def check_rows(kind: str, rows: list[dict[str, Any]], renderer: Renderer, settings: Settings) -> list[RowResult]:
    check = {"preference": check_pairs, "generation": check_prompts}.get(kind, check_conversations)
    return check(rows, renderer, settings)


def check_conversations(rows: list[dict[str, Any]], renderer: Renderer, settings: Settings) -> list[RowResult]:
    """SFT rows, as SFTTrainer tokenizes ``messages`` (with the assistant mask for assistant-only loss)."""
    results = [RowResult() for _ in rows]
    valid = []
    for i, row in enumerate(rows):
        messages = row.get("messages")
        if not _is_conversation(messages):
            results[i].add("render_error", "'messages' is not a non-empty list of {role, content} turns")
        elif not any(turn["role"] == "assistant" for turn in messages):
            results[i].add("empty_response", "no assistant turn")
        else:
            _empty_turns(messages, results[i], "")
            valid.append(i)
    mask = settings.assistant_only_loss and renderer.generation_markers
    encoded = dict(zip(valid, renderer.encode([rows[i]["messages"] for i in valid], assistant_mask=mask), strict=True))
    # A conversation that goes on after its last assistant turn (a trailing user turn) is trained as it is, but
    # the end of that assistant turn is what must carry the end-of-turn token.
    trailing = [i for i in valid if rows[i]["messages"][-1]["role"] != "assistant"]
    cut = [rows[i]["messages"][: _last_assistant(rows[i]["messages"]) + 1] for i in trailing]
    ends = {**encoded, **dict(zip(trailing, renderer.encode(cut, assistant_mask=mask), strict=True))}
    for i in valid:
        enc, result = encoded[i], results[i]
        if not _rendered(enc, result, ""):
            continue
        _check_start(enc.ids, renderer, result, "")
        if _rendered(ends[i], result, ""):
            _check_end(ends[i], renderer, result, "")
        if mask and enc.mask is not None and 1 not in enc.mask:
            result.add(
                "missing_generation_markers",
                "no token of this row is inside {% generation %}: TRL stops with 'at least one example has no "
                "assistant tokens'",
            )
        _check_length(len(enc.ids), settings, result)
    return results


def check_prompts(rows: list[dict[str, Any]], renderer: Renderer, settings: Settings) -> list[RowResult]:
    """Generation prompts (``*_gen`` splits), rendered with the generation prompt as they are at inference."""
    results = [RowResult() for _ in rows]
    valid = []
    for i, row in enumerate(rows):
        if _is_conversation(row.get("messages")):
            valid.append(i)
        else:
            results[i].add("render_error", "'messages' is not a non-empty list of {role, content} turns")
    encoded = renderer.encode([rows[i]["messages"] for i in valid], add_generation_prompt=True)
    for i, enc in zip(valid, encoded, strict=True):
        if _rendered(enc, results[i], ""):
            _check_start(enc.ids, renderer, results[i], "")
            _check_length(len(enc.ids), settings, results[i])
    return results


def _last_assistant(conversation: Conversation) -> int:
    return max(n for n, turn in enumerate(conversation) if turn["role"] == "assistant")


def check_pairs(rows: list[dict[str, Any]], renderer: Renderer, settings: Settings) -> list[RowResult]:
    """Preference rows, as DPOTrainer tokenizes them: the prompt with the generation prompt, then prompt + chosen
    and prompt + rejected, each completion starting where its ids leave the prompt's."""
    from trl import extract_prompt

    results = [RowResult() for _ in rows]
    parts: dict[int, dict[str, Conversation]] = {}
    for i, row in enumerate(rows):
        chosen, rejected = row.get("chosen"), row.get("rejected")
        if not (_is_conversation(chosen) and _is_conversation(rejected)):
            results[i].add("render_error", "'chosen' or 'rejected' is not a non-empty list of {role, content} turns")
            continue
        for name, conversation in (("chosen", chosen), ("rejected", rejected)):
            _empty_turns(conversation, results[i], f"{name}: ")
            if conversation[-1]["role"] != "assistant":
                results[i].add("empty_response", f"{name} does not end with an assistant turn")
        _check_prompt_turns(row, chosen, rejected, results[i])
        parts[i] = extract_prompt({"chosen": chosen, "rejected": rejected})
    # TRL cannot render an empty prompt (chosen and rejected differ from the first turn): render the pairs whole.
    with_prompt = [i for i in parts if parts[i]["prompt"]]
    prompt_ids = dict(zip(with_prompt, _encode(renderer, parts, with_prompt, ("prompt",), True), strict=True))
    full = {
        name: dict(zip(parts, _encode(renderer, parts, list(parts), ("prompt", name), False), strict=True))
        for name in ("chosen", "rejected")
    }
    for i in parts:
        result = results[i]
        if not all(_rendered(full[name][i], result, f"{name}: ") for name in ("chosen", "rejected")):
            continue
        prompt = prompt_ids.get(i)
        if prompt is not None and _rendered(prompt, result, "prompt: "):
            _check_boundary(prompt.ids, full, i, renderer, result)
            if len(prompt.ids) >= settings.max_length:
                result.add("prompt_over_max_length", f"the prompt has {len(prompt.ids):,} tokens")
        for name in ("chosen", "rejected"):
            _check_start(full[name][i].ids, renderer, result, f"{name}: ")
            if rows[i][name][-1]["role"] == "assistant":
                _check_end(full[name][i], renderer, result, f"{name}: ")
        _check_length(max(len(full[name][i].ids) for name in ("chosen", "rejected")), settings, result)
    return results


def _encode(
    renderer: Renderer, parts: dict[int, dict[str, Conversation]], rows: list[int], keys: tuple[str, ...], gen: bool
) -> list[Encoded]:
    conversations = [[turn for key in keys for turn in parts[i][key]] for i in rows]
    return renderer.encode(conversations, add_generation_prompt=gen)


def _is_conversation(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(t, dict) and isinstance(t.get("role"), str) for t in value)
    )


def _empty_turns(conversation: Conversation, result: RowResult, where: str) -> None:
    for number, turn in enumerate(conversation, start=1):
        content = turn.get("content")
        if turn["role"] == "assistant" and (not isinstance(content, str) or not content.strip()):
            result.add("empty_response", f"{where}turn {number} (assistant) is {content!r}")
            return


def _check_prompt_turns(row: dict[str, Any], chosen: Conversation, rejected: Conversation, result: RowResult) -> None:
    """Chosen and rejected must be the same conversation up to their last (assistant) turn, and start with the
    row's ``prompt``."""
    if chosen[:-1] != rejected[:-1]:
        turn = next(
            (n for n, (a, b) in enumerate(zip(chosen[:-1], rejected[:-1], strict=False), start=1) if a != b),
            min(len(chosen), len(rejected)),
        )
        result.add(
            "prompt_mismatch",
            f"chosen and rejected differ at turn {turn} before their responses: TRL takes only the turns they "
            "share as the prompt",
        )
        return
    prompt = row.get("prompt")
    first_user = next((t.get("content") for t in chosen if t["role"] == "user"), None)
    if isinstance(prompt, str) and first_user is not None and prompt != first_user:
        result.add("prompt_mismatch", f"the prompt column {_short(prompt)} is not chosen's first user turn")


def _check_boundary(
    prompt: list[int], full: dict[str, dict[int, Encoded]], i: int, renderer: Renderer, result: RowResult
) -> None:
    """The rendered prompt must be the start of both rendered pairs, or TRL trains on another context."""
    from trl.data_utils import common_prefix_length

    for name in ("chosen", "rejected"):
        ids = full[name][i].ids
        n = common_prefix_length(prompt, ids)
        if n < len(prompt):
            result.add(
                "prompt_mismatch",
                f"the rendered prompt is not the start of prompt + {name}: from token {n} the prompt has "
                f"{_short(renderer.decode(prompt[n:]))}, prompt + {name} has {_short(renderer.decode(ids[n:]))}",
            )
            return


def _rendered(enc: Encoded, result: RowResult, where: str) -> bool:
    if enc.error is not None:
        result.add("render_error", f"{where}{enc.error}")
        return False
    return True


def _check_start(ids: list[int], renderer: Renderer, result: RowResult, where: str) -> None:
    bos = renderer.bos_id
    if bos is None or ids[:1] != [bos]:
        return
    token = renderer.token(bos)
    if ids[1:2] == [bos]:
        result.add("doubled_bos", f"{where}the rendered conversation starts with {token}{token}")
    elif renderer.adds_bos:
        result.add(
            "doubled_bos",
            f"{where}the template writes {token} and the tokenizer adds another when the rendered text is tokenized "
            f"with its defaults (tokenizer(text)); {_TEXT_ONLY}",
        )


def _check_end(enc: Encoded, renderer: Renderer, result: RowResult, where: str) -> None:
    """The last assistant turn must end with exactly one end-of-turn token (whitespace may follow it)."""
    ids = enc.ids
    start = len(ids)
    while start > 0 and (ids[start - 1] in renderer.end_ids or renderer.is_filler(ids[start - 1])):
        start -= 1
    ends = [j for j in range(start, len(ids)) if ids[j] in renderer.end_ids]
    if not ends:
        names = ", ".join(renderer.token(t) for t in sorted(renderer.end_ids)) or "none in the vocabulary"
        result.add(
            "missing_eos",
            f"{where}the assistant turn ends with {_short(renderer.decode(ids[-3:]))} and no end-of-turn token "
            f"({names})",
        )
    elif len(ends) > 1:
        result.add("doubled_eos", f"{where}the assistant turn ends with {_short(renderer.decode(ids[start:]))}")
    elif renderer.adds_eos:
        token = renderer.token(renderer.eos_id)
        result.add(
            "doubled_eos",
            f"{where}the template closes the turn with {renderer.token(ids[ends[0]])} and the tokenizer appends "
            f"{token} when the rendered text is tokenized with its defaults (tokenizer(text)); {_TEXT_ONLY}",
        )
    if ends and enc.mask is not None and 1 in enc.mask and not any(enc.mask[j] for j in ends):
        result.add(
            "missing_eos",
            f"{where}the end-of-turn token is outside {{% generation %}}: with assistant-only loss the model "
            "never learns to stop",
        )


def _check_length(length: int, settings: Settings, result: RowResult) -> None:
    result.length = length
    if length > settings.max_length:
        result.add("over_max_length", f"{length:,} tokens")


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
