"""ONNX Runtime inference for a model version's encoder and label head (fp32 or int8 weights).

Why: on 2 CPU cores ONNX Runtime with BERT fusions (attention, skip-layer-norm, bias-GELU) and
int8 MatMuls is the fastest encoder we measured (docs/classifier.md). Its thread count is set per
session rather than process-wide like torch's, and ``run`` releases the GIL for a whole batch, so
spaCy extraction can run in another thread meanwhile.

The exported graph returns exactly what :meth:`PartnershipModel.encode` needs: label logits and the
mean-pooled embeddings the aspect heads read. Files are derived from ``model.safetensors`` and
rebuilt when it is newer; they live in the version folder, or in a cache folder when that is
read-only.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

__all__ = ["OnnxEncoder", "export_onnx", "onnx_path"]

FILES = {False: "model.onnx", True: "model.int8.onnx"}
OPSET = 17


class _Export(torch.nn.Module):
    """Encoder + classifier head + mean pooling as one traced graph."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from classifier.model import mean_pool

        out = self.model.bert(input_ids=input_ids, attention_mask=attention_mask)
        return self.model.classifier(out.pooler_output), mean_pool(out.last_hidden_state, attention_mask)


def _fresh(path: Path, source: Path) -> bool:
    return path.exists() and (not source.exists() or path.stat().st_mtime >= source.stat().st_mtime)


def onnx_path(folder: Path, int8: bool) -> Path:
    """Where the ONNX file of ``folder`` is (or will be): the folder itself if writable, else a cache."""
    folder = Path(folder)
    name = FILES[int8]
    if (folder / name).exists() or os.access(folder, os.W_OK):
        return folder / name
    digest = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / "partnership-onnx" / f"{folder.name}-{digest}"
    return cache / name


def export_onnx(model: torch.nn.Module, path: Path, *, int8: bool = True) -> Path:
    """Export ``model`` (a BertForSequenceClassification) to ``path``: trace, fuse, optionally quantize.

    Written to a temporary file and renamed, so concurrent processes never read half a file.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    attention = getattr(model.config, "_attn_implementation", None)
    was_training = model.training
    wrapper = _Export(model).eval()  # eval on the wrapper: export restores the wrapper's mode afterwards
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        raw, fused, final = Path(tmp) / "raw.onnx", Path(tmp) / "fused.onnx", Path(tmp) / "final.onnx"
        ids = torch.ones((2, 16), dtype=torch.long)
        mask = torch.ones((2, 16), dtype=torch.long)
        mask[1, 12:] = 0  # a padded row, so the mask path is traced
        try:
            if hasattr(model, "set_attn_implementation"):
                model.set_attn_implementation("eager")  # the pattern ORT's attention fusion recognises
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    wrapper,
                    (ids, mask),
                    str(raw),
                    input_names=["input_ids", "attention_mask"],
                    output_names=["logits", "pooled"],
                    dynamic_axes={
                        "input_ids": {0: "batch", 1: "tokens"},
                        "attention_mask": {0: "batch", 1: "tokens"},
                        "logits": {0: "batch"},
                        "pooled": {0: "batch"},
                    },
                    opset_version=OPSET,
                    dynamo=False,
                )
        finally:
            if attention and hasattr(model, "set_attn_implementation"):
                model.set_attn_implementation(attention)
            model.train(was_training)
        optimized = optimizer.optimize_model(
            str(raw),
            model_type="bert",
            num_heads=model.config.num_attention_heads,
            hidden_size=model.config.hidden_size,
        )
        optimized.save_model_to_file(str(fused))
        if int8:
            quantize_dynamic(
                str(fused),
                str(final),
                weight_type=QuantType.QInt8,
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        else:
            fused.rename(final)
        os.replace(final, path)
    return path


class OnnxEncoder:
    """An ONNX Runtime session over an exported version: ``(input_ids, attention_mask) -> (logits, pooled)``."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or 0  # 0: one per core
        options.inter_op_num_threads = 1
        self.path = Path(path)
        self.threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    @classmethod
    def for_version(
        cls, folder: Path, model: torch.nn.Module, *, int8: bool, threads: int | None = None
    ) -> OnnxEncoder:
        """The session for a version folder, exporting the ONNX file first if it is missing or stale."""
        path = onnx_path(folder, int8)
        if not _fresh(path, Path(folder) / "model.safetensors"):
            export_onnx(model, path, int8=int8)
        return cls(path, threads)

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, pooled = self.session.run(
            None, {"input_ids": input_ids.astype(np.int64), "attention_mask": attention_mask.astype(np.int64)}
        )
        return logits, pooled
