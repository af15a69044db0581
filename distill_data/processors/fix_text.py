"""FixText: repair mojibake and HTML entities with ftfy, leaving legitimate characters alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from .requires import Requirement
from .turn_rewriter import TurnRewriter

if TYPE_CHECKING:
    import ftfy

# Characters that cannot trigger any fix of our configuration: printable ASCII (except "&", which starts HTML
# entities), tab and newline, and blocks with no mojibake lead bytes, no controls and no NFC changes: typographic
# punctuation (’ “ — …), kana, CJK ideographs, Hangul syllables, emoji. (Not Cyrillic: ftfy rightly reads some
# Cyrillic runs as UTF-8 mis-decoded as windows-1251.) A string made only of these is passed through untouched,
# which is most chat text; tests check that the shortcut never changes a result.
SAFE = (
    r"\t\n\x20-\x25\x27-\x7e"
    r"\u2010-\u2027\u2030-\u205e"
    r"\u3041-\u3096\u30a0-\u30ff\u4e00-\u9fff\uac00-\ud7a3"
    r"\U0001f300-\U0001faff"
)
# ftfy's HTML_ENTITY_RE: unescape_html decodes nothing else and no other fix looks at "&", so an "&" outside such a
# pattern ("fish & chips", "a && b") is as safe as the characters above.
HTML_ENTITY = r"&#?[0-9A-Za-z]{1,24};"
NEEDS_FIXING = f"[^{SAFE}&]|{HTML_ENTITY}"


@dataclass
class FixText(TurnRewriter):
    """Repair mis-decoded text (``doesnâ€™t`` -> ``doesn’t``) and HTML entities (``&amp;`` -> ``&``).

    ftfy runs with an explicit configuration: it fixes encodings, HTML entities (``unescape_html``,
    ``"auto"`` leaves text that contains ``<`` alone, as it is likely HTML source), terminal escapes,
    control characters, surrogates and line breaks, and normalises to NFC. It keeps curly quotes
    (``uncurl_quotes=False``), ligatures (``fix_latin_ligatures=False``) and full-width characters
    (``fix_character_width=False``), which are legitimate text in chat data (CJK punctuation, typography).
    """

    name: ClassVar[str] = "fix_text"
    candidates: ClassVar[str] = NEEDS_FIXING
    requires: ClassVar[tuple[Requirement, ...]] = (Requirement("ftfy"),)

    unescape_html: bool | Literal["auto"] = "auto"
    normalization: Literal["NFC", "NFKC", "NFD", "NFKD"] | None = "NFC"

    def config(self) -> ftfy.TextFixerConfig:
        import ftfy

        return ftfy.TextFixerConfig(
            unescape_html=self.unescape_html,
            remove_terminal_escapes=True,
            fix_encoding=True,
            restore_byte_a0=True,
            replace_lossy_sequences=True,
            decode_inconsistent_utf8=True,
            fix_c1_controls=True,
            fix_latin_ligatures=False,
            fix_character_width=False,
            uncurl_quotes=False,
            fix_line_breaks=True,
            fix_surrogates=True,
            remove_control_chars=True,
            normalization=self.normalization,
            explain=False,
        )

    def fix(self, text: str) -> str:
        """Fix one string (what :meth:`process` does to every turn that can need it)."""
        import ftfy

        return ftfy.fix_text(text, self.config())

    def rewriter(self) -> Callable[[str], str]:
        import ftfy

        config = self.config()
        return lambda text: ftfy.fix_text(text, config)
