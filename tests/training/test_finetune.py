"""A real fine-tune on a small slice: it learns, it saves, it reloads to the same predictions."""

import numpy as np

from classifier.model import PartnershipModel
from classifier.taxonomy import LABELS


def _held_out(corpus, splits, per_label=8):
    rows = []
    for label in LABELS:
        rows += [r for r in corpus if splits[r.id] == "test" and r.label == label][:per_label]
    return [r.text for r in rows], np.array([LABELS.index(r.label) for r in rows])


def test_tiny_model_beats_chance_on_held_out_rows(tiny_model_dir, corpus, splits):
    model = PartnershipModel.load(tiny_model_dir)
    texts, labels = _held_out(corpus, splits)
    predicted = np.array([LABELS.index(o.label) for o in model.predict(texts)])
    assert (predicted == labels).mean() > 0.5  # chance is 0.2


def test_saved_folder_reloads_and_predicts_the_same(tiny_model_dir, corpus, splits):
    texts, _ = _held_out(corpus, splits, per_label=2)
    first = PartnershipModel.load(tiny_model_dir).predict(texts)
    again = PartnershipModel.load(tiny_model_dir).predict(texts)
    for a, b in zip(first, again, strict=True):
        assert a.label == b.label
        assert np.allclose(list(a.probabilities.values()), list(b.probabilities.values()), atol=1e-6)
        assert abs(sum(a.probabilities.values()) - 1) < 1e-5
        assert set(a.testbed) == {"no", "yes"} and set(a.international) == {"none", "some", "strong"}
    files = {p.name for p in tiny_model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "aspects.safetensors", "partnership.json", "tokenizer.json"} <= files
    assert not any(name.endswith((".pkl", ".pickle", ".bin")) for name in files)


def test_int8_model_agrees_with_fp32_on_most_documents(tiny_model_dir, corpus, splits):
    texts, _ = _held_out(corpus, splits, per_label=4)
    fp32 = [o.label for o in PartnershipModel.load(tiny_model_dir).predict(texts)]
    int8 = [o.label for o in PartnershipModel.load(tiny_model_dir, int8=True).predict(texts)]
    assert np.mean(np.array(fp32) == np.array(int8)) >= 0.8


def test_evidence_faithfulness_is_measured_on_real_predictions(tiny_model_dir, corpus, splits):
    from training.evaluate import evidence_faithfulness

    texts, _ = _held_out(corpus, splits, per_label=2)
    result = evidence_faithfulness(PartnershipModel.load(tiny_model_dir), texts)
    assert result["documents"] >= 8
    assert result["mean_drop_top_evidence"] >= result["mean_drop_random_sentence"]
    assert result["share_top_drop_greater_or_equal"] >= 0.8


def test_int8_check_measures_each_backend_against_fp32(tiny_model_dir, corpus, splits):
    from training.evaluate import INT8_TOLERANCE, format_int8_check, int8_check

    texts, labels = _held_out(corpus, splits, per_label=4)
    check = int8_check(tiny_model_dir, texts, labels)
    for backend in ("torch", "onnx"):
        row = check[backend]
        assert abs(row["delta"] - (row["macro_f1"] - check["fp32_macro_f1"])) < 1e-9
        assert row["allowed"] == (check["fp32_macro_f1"] - row["macro_f1"] <= INT8_TOLERANCE)
        assert 0 <= row["labels_changed"] <= len(texts) // 5  # the int8 model keeps most labels
    assert check["allowed"] == (check["torch"]["allowed"] and check["onnx"]["allowed"])
    assert "onnx int8 macro-F1" in format_int8_check(check)


def _row(fmt, val_blended, val_minilm, test_blended):
    return {
        "input_format": fmt,
        "validation": {"blended_macro_f1": val_blended, "minilm_macro_f1": val_minilm},
        "test": {"blended_macro_f1": test_blended, "minilm_macro_f1": test_blended},
        "best_epoch": 2,
        "lexical_weight": 0.5,
        "seconds": 1.0,
    }


def test_ablation_winner_is_chosen_on_validation_never_on_test():
    from training.ablation import ablation_markdown, choose_arm

    assert choose_arm([_row("text", 0.90, 0.80, 0.99), _row("facts+text", 0.91, 0.70, 0.50)]) == "facts+text"
    assert choose_arm([_row("text", 0.90, 0.80, 0.50), _row("facts+text", 0.90, 0.85, 0.40)]) == "facts+text"
    assert choose_arm([_row("facts+text", 0.90, 0.80, 0.99), _row("text", 0.90, 0.80, 0.10)]) == "text"
    config = {"seed": 13, "epochs": 2, "max_length": 128, "freeze_layers": 3, "learning_rate": 8e-5}
    rows = [_row("text", 0.9, 0.8, 0.7), _row("facts+text", 0.95, 0.8, 0.7)]
    card = ablation_markdown({"config": config, "rows": rows, "winner": choose_arm(rows)})
    assert "**`facts+text`**" in card and card.count("\n| `") == 2
