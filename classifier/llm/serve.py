"""A small OpenAI-compatible server for the local model: ``/v1/chat/completions`` and ``/v1/models``.

    python -m classifier.llm.serve --port 8001 [--api-key KEY] [--delay SECONDS] [--cache-dir DIR]

Then ``LLM_BASE_URL=http://127.0.0.1:8001/v1 partnership evaluate --llm openai`` talks to it
like to vLLM, Ollama or OpenAI. It binds to 127.0.0.1 by default and answers one request at a
time (the model generates under a lock). ``--delay`` sleeps before every answer (to test client
timeouts); ``logprobs``/``top_logprobs`` are supported; streaming is not.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Any, Literal

from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from classifier.llm.local import LocalBackend
from classifier.llm.registry import BackendError, BackendTimeout

__all__ = ["ChatRequest", "create_app", "main"]


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    """The part of the chat-completions request this server honours (other fields are accepted and ignored)."""

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1, le=2048)
    max_completion_tokens: int | None = Field(None, ge=1, le=2048)
    temperature: float | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)
    stream: bool = False


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)


def create_app(
    backend: LocalBackend | None = None, *, api_key: str | None = None, delay: float = 0.0, timeout: float = 300.0
) -> FastAPI:
    """The app; ``backend`` defaults to the local SmolLM2 (loaded on the first request or by ``--preload``)."""
    backend = backend or LocalBackend()
    app = FastAPI(title="partnership local LLM (OpenAI-compatible)", docs_url=None, redoc_url=None)

    def check(authorization: str | None) -> None:
        if api_key and authorization != f"Bearer {api_key}":
            raise HTTPException(401, "invalid API key")

    @app.exception_handler(HTTPException)
    async def http_error(_request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), "invalid_request_error")

    @app.get("/v1/models")
    def models(authorization: str | None = Header(None)) -> dict[str, Any]:
        check(authorization)
        return {"object": "list", "data": [{"id": backend.model, "object": "model", "owned_by": "local"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: ChatRequest, authorization: str | None = Header(None)) -> dict[str, Any]:
        check(authorization)
        if request.stream:
            raise HTTPException(400, "streaming is not supported by this server")
        if request.model and request.model != backend.model:
            return _error(404, f"model {request.model!r} not found; this server has {backend.model!r}", "not_found")
        if delay:
            await asyncio.sleep(delay)
        top = (request.top_logprobs or 0) if request.logprobs else None
        messages = [m.model_dump() for m in request.messages]
        max_tokens = request.max_completion_tokens or request.max_tokens or 256
        try:
            completion = await asyncio.to_thread(
                backend.complete, messages, max_tokens=max_tokens, timeout=timeout, top_logprobs=top
            )
        except BackendTimeout as exc:
            return _error(504, str(exc), "timeout")
        except BackendError as exc:
            return _error(503, str(exc), "server_error")
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": backend.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": completion.text},
                    "logprobs": {"content": completion.logprobs} if top is not None else None,
                    "finish_reason": completion.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
                "total_tokens": completion.prompt_tokens + completion.completion_tokens,
            },
        }

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Serve SmolLM2 through an OpenAI-compatible API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--api-key", help="Require 'Authorization: Bearer KEY'.")
    parser.add_argument("--delay", type=float, default=0.0, help="Seconds to sleep before every answer.")
    parser.add_argument("--timeout", type=float, default=300.0, help="Generation time limit per request.")
    parser.add_argument("--cache-dir", help="Folder for the converted model (faster later starts).")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice).")
    parser.add_argument("--preload", action="store_true", help="Load the model before accepting requests.")
    args = parser.parse_args(argv)
    backend = LocalBackend(cache_dir=args.cache_dir, threads=args.threads)
    if args.preload:
        backend.loaded()
    app = create_app(backend, api_key=args.api_key, delay=args.delay, timeout=args.timeout)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
