import numpy as np

from classifier.calibration import choose_review_threshold, expected_calibration_error, fit_temperature, softmax


def test_temperature_scaling_reduces_ece_of_overconfident_logits():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 2000)
    logits = rng.normal(0, 1, (2000, 5))
    logits[np.arange(2000), labels] += 1.0  # right about half the time...
    logits *= 6.0  # ...but far too sure
    before = expected_calibration_error(softmax(logits), labels)
    temperature = fit_temperature(logits, labels)
    after = expected_calibration_error(softmax(logits, temperature), labels)
    assert temperature > 2.0
    assert after < before / 3


def test_review_threshold_reaches_target_accuracy_on_kept_predictions():
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.2, 1.0, 1000)
    labels = np.zeros(1000, dtype=int)
    correct = rng.uniform(0, 1, 1000) < confidence
    probs = np.zeros((1000, 5))
    probs[np.arange(1000), np.where(correct, 0, 1)] = confidence
    probs[:, 2] = 1 - confidence
    threshold = choose_review_threshold(probs, labels, target_accuracy=0.9)
    kept = probs.max(1) >= threshold
    assert (probs[kept].argmax(1) == 0).mean() >= 0.9
    assert 0.5 < threshold < 1.0
