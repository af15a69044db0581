"""``distill-data check``: render a dataset through a tokenizer's chat template the way the trainer will, and
report what would silently go wrong in training (doubled BOS/EOS, missing EOS, missing ``{% generation %}``
markers, chosen/rejected prompt mismatches, empty responses, rows over the max length).

Modules: ``data`` (reading the splits), ``render`` (tokenizing as TRL does), ``problems`` (the checks),
``report`` (counts, examples, tables), ``run`` (``check_dataset``), ``command`` (the click command).
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {"KINDS": "problems", "CheckReport": "report", "check_dataset": "run"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
