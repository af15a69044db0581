"""FixText: repair mojibake and HTML entities with ftfy, leaving legitimate characters alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import ftfy
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from ..messages import map_contents
from .base import Processor, StepStats

# Only these characters can trigger an ftfy fix under our configuration: anything non-ASCII (mojibake,
# C1 controls, odd line breaks), "&" (HTML entities), ESC (terminal escapes) and ASCII control
# characters. A string without them is passed through untouched, which is most English text.
NEEDS_FIXING = r"[^\t\n\x20-\x7E]|&"


@dataclass
class FixText(Processor):
    """Repair mis-decoded text (``doesnâ€™t`` -> ``doesn’t``) and HTML entities (``&amp;`` -> ``&``).

    ftfy runs with an explicit configuration: it fixes encodings, HTML entities (``unescape_html``,
    ``"auto"`` leaves text that contains ``<`` alone, as it is likely HTML source), terminal escapes,
    control characters, surrogates and line breaks, and normalises to NFC. It keeps curly quotes
    (``uncurl_quotes=False``), ligatures (``fix_latin_ligatures=False``) and full-width characters
    (``fix_character_width=False``), which are legitimate text in chat data (CJK punctuation, typography).
    """

    name: ClassVar[str] = "fix_text"
    inputs: ClassVar[tuple[str, ...]] = ("messages",)
    outputs: ClassVar[tuple[str, ...]] = ("messages",)

    unescape_html: bool | Literal["auto"] = "auto"
    normalization: Literal["NFC", "NFKC", "NFD", "NFKD"] | None = "NFC"

    def config(self) -> ftfy.TextFixerConfig:
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
        """Fix one string (the per-string path; :meth:`process` skips strings that cannot need it)."""
        return ftfy.fix_text(text, self.config())

    def process(self, table: pa.Table, stats: StepStats) -> pa.Table:
        config = self.config()

        def rewrite(contents: pa.Array) -> pa.Array:
            series = pl.Series(contents)
            candidates = series.str.contains(NEEDS_FIXING).fill_null(False)
            if not candidates.any():
                return contents
            values = series.to_list()
            for i in candidates.arg_true().to_list():
                values[i] = ftfy.fix_text(values[i], config)
            return pa.array(values, pa.string())

        messages, changed = map_contents(table.column("messages"), rewrite)
        stats.count("turns_changed", pc.sum(changed).as_py() or 0)
        return table.set_column(table.schema.get_field_index("messages"), "messages", messages)
