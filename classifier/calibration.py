"""Calibrated probabilities: temperature scaling, expected calibration error, the review threshold.

A fine-tuned classifier is over-confident; one temperature fitted on the
validation split makes its probabilities honest, and a confidence threshold
chosen on the same split decides which predictions a person must review.
"""

from __future__ import annotations

import numpy as np

__all__ = ["choose_review_threshold", "coverage_curve", "expected_calibration_error", "fit_temperature", "softmax"]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    p = softmax(logits, temperature)
    return float(-np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, None)).mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in [0.05, 20] that minimizes negative log-likelihood on held-out logits."""
    from scipy.optimize import minimize_scalar

    result = minimize_scalar(
        lambda log_t: _nll(logits, labels, float(np.exp(log_t))), bounds=(np.log(0.05), np.log(20.0)), method="bounded"
    )
    return float(np.exp(result.x))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """ECE: the bin-weighted gap between confidence and accuracy, over equal-width confidence bins."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)


def coverage_curve(probabilities: np.ndarray, labels: np.ndarray) -> list[dict[str, float]]:
    """Accuracy of the predictions kept at each confidence threshold, and the share kept (coverage)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    rows = []
    for threshold in (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
        kept = confidence >= threshold
        rows.append(
            {
                "threshold": threshold,
                "coverage": float(kept.mean()),
                "accuracy": float(correct[kept].mean()) if kept.any() else float("nan"),
            }
        )
    return rows


def choose_review_threshold(probabilities: np.ndarray, labels: np.ndarray, target_accuracy: float = 0.95) -> float:
    """The lowest confidence threshold whose kept predictions reach ``target_accuracy`` on validation.

    Predictions below it get ``needs_review``. If no threshold reaches the target,
    the one with the best accuracy among those keeping at least 20% is used.
    """
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    candidates = np.unique(np.round(confidence, 3))
    best, best_accuracy = 0.99, -1.0
    for threshold in sorted(candidates):
        kept = confidence >= threshold
        if kept.mean() < 0.2:
            break
        accuracy = correct[kept].mean()
        if accuracy >= target_accuracy:
            return float(threshold)
        if accuracy > best_accuracy:
            best, best_accuracy = float(threshold), accuracy
    return best
