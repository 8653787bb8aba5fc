"""The prediction path on a real (tiny) model: fields, calibration, review flag, evidence."""

import pytest

from classifier.documents import SourceDocument
from classifier.explain import split_sentences
from classifier.pipeline import Pipeline


@pytest.fixture(scope="module")
def pipeline(tiny_model_dir):
    return Pipeline.load(tiny_model_dir, extract=False)


def test_predictions_carry_every_field_in_input_order(pipeline, corpus):
    docs = [SourceDocument(r.id, r.text, "corpus", "txt") for r in corpus[:6]]
    predictions = pipeline.predict(docs)
    assert [p.id for p in predictions] == [r.id for r in corpus[:6]]
    threshold = pipeline.model.settings.review_threshold
    for p in predictions:
        assert abs(sum(p.probabilities.values()) - 1) < 1e-3
        assert p.label == max(p.probabilities, key=p.probabilities.get)
        assert p.needs_review == (p.confidence < threshold)
        assert p.model_version == "tiny" and p.international in {"none", "some", "strong"}


def test_evidence_sentences_are_slices_of_the_text_ranked_by_weight(pipeline, corpus):
    text = corpus[0].text
    [prediction] = pipeline.predict([text])
    assert 1 <= len(prediction.evidence) <= 3
    for e in prediction.evidence:
        assert text[e.start : e.end].strip() == e.sentence
    weights = [e.weight for e in prediction.evidence]
    assert weights == sorted(weights, reverse=True)


def test_removing_top_evidence_lowers_the_probability_more_than_a_random_sentence(pipeline, corpus):
    wins, total = 0, 0
    for record in corpus[:12]:
        [p] = pipeline.predict([record.text])
        spans = split_sentences(record.text)
        if not p.evidence or len(spans) < 3:
            continue
        top = p.evidence[0]
        other = next(s for s in spans if s != (top.start, top.end))
        drop_top = (
            p.probabilities[p.label]
            - pipeline.predict([record.text[: top.start] + record.text[top.end :]])[0].probabilities[p.label]
        )
        drop_other = (
            p.probabilities[p.label]
            - pipeline.predict([record.text[: other[0]] + record.text[other[1] :]])[0].probabilities[p.label]
        )
        wins += drop_top >= drop_other
        total += 1
    assert total >= 8 and wins == total


def test_empty_batch_and_one_sentence_document(pipeline):
    assert pipeline.predict([]) == []
    [p] = pipeline.predict(["The council pays for new street lamps."])
    assert p.evidence == []
