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


# Speed options (issue 4) must not change results: same labels, probabilities within 1e-3 of the
# plain torch fp32 path (int8: labels on most documents, see tests/training/test_finetune.py).


@pytest.fixture(scope="module")
def plain_extracting(tiny_model_dir):
    return Pipeline.load(tiny_model_dir, extract=True, explain=False)


def _same(a, b, atol=1e-3):
    assert [p.id for p in a] == [p.id for p in b]
    assert [p.label for p in a] == [p.label for p in b]
    for x, y in zip(a, b, strict=True):
        assert max(abs(x.probabilities[k] - y.probabilities[k]) for k in x.probabilities) <= atol
        assert x.testbed == y.testbed and x.international == y.international


def test_onnx_backend_predicts_like_torch_fp32(tiny_model_dir, pipeline, corpus):
    onnx = Pipeline.load(tiny_model_dir, extract=False, backend="onnx", threads=1)
    assert onnx.model.backend == "onnx" and (tiny_model_dir / "model.onnx").exists()
    texts = [r.text for r in corpus[:12]] + ["The council pays for new street lamps."]  # mixed lengths: padding
    _same(onnx.predict(texts), pipeline.predict(texts))


def test_onnx_int8_keeps_most_labels_and_is_smaller(tiny_model_dir, pipeline, corpus):
    int8 = Pipeline.load(tiny_model_dir, extract=False, explain=False, backend="onnx", int8=True)
    texts = [r.text for r in corpus[:20]]
    fp32 = pipeline.predict(texts)
    quantized = int8.predict(texts)
    assert sum(a.label == b.label for a, b in zip(fp32, quantized, strict=True)) >= 16
    assert (tiny_model_dir / "model.int8.onnx").stat().st_size < (tiny_model_dir / "model.onnx").stat().st_size / 3


@pytest.mark.parametrize("input_format", ["text", "facts+text"])
def test_overlapped_extraction_gives_the_same_predictions_and_stakeholders(
    tiny_model_dir, plain_extracting, corpus, input_format
):
    overlapped = Pipeline.load(tiny_model_dir, extract=True, explain=False, backend="onnx", threads=1, overlap=True)
    overlapped.chunk_size = 3  # several chunks, the last one short
    assert overlapped.overlap
    texts = [r.text for r in corpus[:10]]
    plain_extracting.model.settings.input_format = input_format
    overlapped.model.settings.input_format = input_format
    try:
        expected = plain_extracting.predict(texts)
        got = overlapped.predict(texts)
    finally:
        plain_extracting.model.settings.input_format = "text"
    _same(got, expected)
    assert [p.stakeholders for p in got] == [p.stakeholders for p in expected]
    assert sum(len(p.stakeholders) for p in got) >= 5


def test_unknown_backend_is_a_clear_error(tiny_model_dir):
    with pytest.raises(ValueError, match="backend must be one of"):
        Pipeline.load(tiny_model_dir, extract=False, backend="tensorrt")
