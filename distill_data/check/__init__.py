"""``distill-data check``: render a dataset through a tokenizer's chat template the way the trainer will, and
report what would silently go wrong in training (doubled BOS/EOS, missing EOS, missing ``{% generation %}``
markers, chosen/rejected prompt mismatches, empty responses, rows over the max length).

Modules: ``data`` (reading the splits), ``render`` (tokenizing as TRL does), ``problems`` (the checks),
``report`` (counts, examples, tables), ``run`` (``check_dataset``), ``command`` (the click command).
"""

from __future__ import annotations

from .problems import KINDS
from .report import CheckReport
from .run import check_dataset

__all__ = ["KINDS", "CheckReport", "check_dataset"]
