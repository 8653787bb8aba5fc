"""Any OpenAI-compatible chat-completions endpoint (vLLM, Ollama, llama.cpp server, OpenAI), called with httpx.

Configured by a base URL that includes the API prefix (``http://127.0.0.1:8001/v1``,
``http://localhost:11434/v1``, ``https://api.openai.com/v1``), a model name (when
empty: the first one ``GET /models`` lists) and an optional API key sent as a
bearer token. Timeouts and HTTP errors raise :class:`BackendError` subclasses,
which the adviser turns into ``unknown`` opinions.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import httpx

from classifier.llm.registry import (
    Backend,
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ScoringUnsupported,
    register_backend,
)

__all__ = ["OpenAIBackend"]


def _detail(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
        if isinstance(error, dict):
            return str(error.get("message", error))[:200]
        if error:
            return str(error)[:200]
    except (ValueError, AttributeError):
        pass
    return response.text[:200]


@register_backend("openai.v1")
class OpenAIBackend(Backend):
    """Chat completions over HTTP; ``score`` uses the first token's ``top_logprobs`` where the server has them."""

    default_method = "generate"

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url:
            raise BackendUnavailable("the openai backend needs LLM_BASE_URL (e.g. http://127.0.0.1:8001/v1)")
        self.base_url = base_url.rstrip("/")
        self._model = model or ""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport)
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        """The configured model, or the first model the server lists (asked once)."""
        if not self._model:
            with self._lock:
                if not self._model:
                    data = self._request("GET", "/models", timeout=10.0)
                    models = [m.get("id") for m in data.get("data", []) if isinstance(m, dict) and m.get("id")]
                    if not models:
                        raise BackendError(f"{self.base_url}/models lists no model; set LLM_MODEL")
                    self._model = models[0]
        return self._model

    def _request(self, method: str, path: str, *, timeout: float, json: dict | None = None) -> dict:
        try:
            response = self._client.request(method, path, json=json, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise BackendTimeout(f"no answer from {self.base_url} within {timeout:g} s ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise BackendError(f"cannot reach {self.base_url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise BackendError(f"{self.base_url}{path} answered HTTP {response.status_code}: {_detail(response)}")
        try:
            data = response.json()
        except ValueError as exc:
            raise BackendError(f"{self.base_url}{path} answered non-JSON: {response.text[:100]!r}") from exc
        if not isinstance(data, dict):
            raise BackendError(f"{self.base_url}{path} answered {type(data).__name__}, not an object")
        return data

    def _choice(self, body: dict, timeout: float) -> dict:
        data = self._request("POST", "/chat/completions", json=body, timeout=timeout)
        try:
            return data["choices"][0]
        except (KeyError, IndexError, TypeError) as exc:
            raise BackendError(f"response without choices: {str(data)[:120]}") from exc

    def chat(self, messages: Sequence[dict], *, max_tokens: int = 160, timeout: float = 60.0) -> str:
        body = {"model": self.model, "messages": list(messages), "max_tokens": max_tokens, "temperature": 0}
        choice = self._choice(body, timeout)
        content = (choice.get("message") or {}).get("content")
        if not isinstance(content, str):
            raise BackendError("response without message content")
        return content.strip()

    def score(self, messages: Sequence[dict], options: Sequence[str], *, timeout: float = 60.0) -> dict[str, float]:
        """Log-probabilities of ``options`` among the first token's top 20; absent options get the floor -100."""
        body = {
            "model": self.model,
            "messages": list(messages),
            "max_tokens": 1,
            "temperature": 0,
            "logprobs": True,
            "top_logprobs": 20,
        }
        choice = self._choice(body, timeout)
        try:
            top = choice["logprobs"]["content"][0]["top_logprobs"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ScoringUnsupported(f"{self.base_url} returns no top_logprobs") from exc
        scores = dict.fromkeys(options, -100.0)
        for item in top:
            token = str(item.get("token", "")).strip()
            if token in scores:
                scores[token] = max(scores[token], float(item.get("logprob", -100.0)))
        return scores

    def close(self) -> None:
        self._client.close()
