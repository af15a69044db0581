"""Processors: one small, typed step per module. See :mod:`distill_data.processors.base` for the contract."""

from .base import Filter, Processor, StepStats, processor_from_dict, registered_processors
from .binarize import Binarize
from .decontaminate import Decontaminate, load_benchmark
from .dedup import Dedup, normalise_prompt
from .disclaimer import DEFAULT_PHRASES, AssistantDisclaimerFilter
from .fix_text import FixText
from .language import LanguageFilter, detect_language
from .near_dedup import NearDedup
from .prompt_id import PromptId, prompt_id
from .source_filter import SourceFilter
from .structure import StructureFilter
from .truecase import Truecase, truecase
from .turn_rewriter import TurnRewriter

__all__ = [
    "DEFAULT_PHRASES",
    "AssistantDisclaimerFilter",
    "Binarize",
    "Decontaminate",
    "Dedup",
    "Filter",
    "FixText",
    "LanguageFilter",
    "NearDedup",
    "Processor",
    "PromptId",
    "SourceFilter",
    "StepStats",
    "StructureFilter",
    "Truecase",
    "TurnRewriter",
    "detect_language",
    "load_benchmark",
    "normalise_prompt",
    "processor_from_dict",
    "prompt_id",
    "registered_processors",
    "truecase",
]
