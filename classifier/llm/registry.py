"""The backend interface and the registry of backends under versioned names (``local.v1``, ``openai.v1``).

A backend turns chat messages into text (:meth:`Backend.chat`) and, where it
can, scores a few one-token answers (:meth:`Backend.score`). A new backend (or a
changed behaviour of an old one) registers under a new version, so that stored
opinions keep naming what produced them.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "Backend",
    "BackendError",
    "BackendTimeout",
    "BackendUnavailable",
    "Completion",
    "ScoringUnsupported",
    "available_backends",
    "create_backend",
    "register_backend",
    "resolve_name",
]


class BackendError(RuntimeError):
    """The backend could not answer (HTTP error, bad response, model failure)."""


class BackendTimeout(BackendError):
    """The answer did not come within the configured time."""


class BackendUnavailable(BackendError):
    """The backend cannot be used here (weights package missing, no endpoint configured)."""


class ScoringUnsupported(BackendError):
    """The backend cannot return token log-probabilities."""


@dataclass
class Completion:
    """One generated answer with, when asked, each token's log-probability and the top alternatives."""

    text: str
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    logprobs: list[dict] = field(default_factory=list)  # OpenAI shape: {token, logprob, top_logprobs: [...]}


Message = dict[str, str]


class Backend(ABC):
    """Something that answers chat messages: the local SmolLM2 or an OpenAI-compatible endpoint."""

    name: str = ""  # the versioned registry name, e.g. "local.v1"
    default_method: str = "generate"  # what the adviser uses when asked for "auto"

    @property
    @abstractmethod
    def model(self) -> str:
        """The model's identifier as reported in opinions."""

    @abstractmethod
    def chat(self, messages: Sequence[Message], *, max_tokens: int = 160, timeout: float = 60.0) -> str:
        """The assistant's reply to ``messages`` (greedy decoding); raises :class:`BackendError`."""

    def score(self, messages: Sequence[Message], options: Sequence[str], *, timeout: float = 60.0) -> dict[str, float]:
        """Log-probability of each one-token answer in ``options`` as the reply's first token."""
        raise ScoringUnsupported(f"{self.name} cannot score answers")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the local model stays loaded for the process."""


_REGISTRY: dict[str, Callable[..., Backend]] = {}
_BUILTIN = {"local.v1": "classifier.llm.local", "openai.v1": "classifier.llm.openai"}


def register_backend(name: str) -> Callable[[Callable[..., Backend]], Callable[..., Backend]]:
    """Class decorator: make a backend available as ``name`` (``family.vN``)."""
    family, _, version = name.partition(".")
    if not family or not version.startswith("v") or not version[1:].isdigit():
        raise ValueError(f"backend names look like 'local.v1', not {name!r}")

    def decorate(factory: Callable[..., Backend]) -> Callable[..., Backend]:
        _REGISTRY[name] = factory
        return factory

    return decorate


def _load_builtins() -> None:
    for name, module in _BUILTIN.items():
        if name not in _REGISTRY:
            importlib.import_module(module)


def available_backends() -> list[str]:
    """Every registered versioned name, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def resolve_name(name: str) -> str:
    """``"local"`` → its newest version ``"local.v1"``; a versioned name must be registered."""
    _load_builtins()
    if name in _REGISTRY:
        return name
    versions = [n for n in _REGISTRY if n.split(".")[0] == name]
    if not versions:
        raise ValueError(f"unknown LLM backend {name!r}; one of {', '.join(sorted(_REGISTRY))}")
    return max(versions, key=lambda n: int(n.split(".v")[1]))


def create_backend(name: str, **options) -> Backend:
    """A backend by (versioned or family) name; ``options`` go to its constructor (None values dropped)."""
    resolved = resolve_name(name)
    backend = _REGISTRY[resolved](**{k: v for k, v in options.items() if v is not None})
    backend.name = resolved
    return backend
