import numpy as np

from classifier.lexical import LexicalModel
from classifier.taxonomy import LABELS


def test_lexical_model_round_trips_without_pickles(tmp_path, corpus, splits):
    train = [r for r in corpus if splits[r.id] == "train"][:300]
    held_out = [r.text for r in corpus if splits[r.id] == "validation"][:40]
    model = LexicalModel.fit([r.text for r in train], [LABELS.index(r.label) for r in train])
    model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lexical.json", "lexical.safetensors"]
    again = LexicalModel.load(tmp_path)
    assert np.allclose(model.predict_proba(held_out), again.predict_proba(held_out), atol=1e-9)
    assert again.predict_proba(held_out).shape == (40, 5)
