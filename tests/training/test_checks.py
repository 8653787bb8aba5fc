from tests.conftest import TEXTS, make_record
from training.checks import (
    DISTINCT_4GRAM_MIN,
    check_corpus,
    distinct_ngram_ratio,
    find_label_words,
    find_near_duplicates,
    find_repeated_sentences,
)
from training.splits import assign_splits


def _small_corpus():
    return [make_record(f"tst-{i:04d}", label) for i, label in enumerate(TEXTS, 1)]


def _checks_failing(records):
    report = check_corpus(records, assign_splits(records), minima=False, min_distinct_4grams=0.0)
    return {p.check for p in report.problems}


def test_clean_small_corpus_passes_all_but_split_shares():
    assert _checks_failing(_small_corpus()) <= {"splits"}


def test_sentence_in_three_documents_fails_but_two_is_allowed():
    stock = " The scheme will be reviewed by an independent panel of experts next year."
    records = _small_corpus()
    twice = [make_record(r.id, r.label, r.text + stock if i < 2 else r.text) for i, r in enumerate(records)]
    thrice = [make_record(r.id, r.label, r.text + stock if i < 3 else r.text) for i, r in enumerate(records)]
    assert find_repeated_sentences(twice) == {}
    assert list(find_repeated_sentences(thrice).values()) == [["tst-0001", "tst-0002", "tst-0003"]]
    assert "repeated_sentences" in _checks_failing(thrice)


def test_span_offsets_must_match_the_text():
    good = {"text": "Lumatek GmbH", "start": TEXTS["A"].index("Lumatek GmbH"), "type": "private", "role": "operator"}
    good["end"] = good["start"] + len("Lumatek GmbH")
    shifted = dict(good, start=good["start"] + 1, end=good["end"] + 1)
    assert "spans" not in _checks_failing([make_record("tst-0001", "A", stakeholders=[good])])
    assert "spans" in _checks_failing([make_record("tst-0001", "A", stakeholders=[shifted])])


def test_label_words_are_found():
    assert find_label_words("A private-led scheme") == ["private-led"]
    assert find_label_words("the SPC was formed") == ["SPC"]
    assert find_label_words("this is a Model C project") == ["Model C"]
    assert find_label_words("a class A office tower with a special purpose company") == []
    assert "label_words" in _checks_failing([make_record("tst-0001", "A", TEXTS["A"] + " It is a city-led scheme.")])


def test_exact_and_near_duplicates_are_found():
    records = _small_corpus()
    near = TEXTS["A"].replace("this winter", "next winter")
    with_near = records + [make_record("tst-0009", "A", near)]
    pairs = find_near_duplicates(with_near)
    assert [(a, b) for a, b, _ in pairs] == [("tst-0001", "tst-0009")]
    assert "near_duplicates" in _checks_failing(with_near)
    assert "exact_duplicates" in _checks_failing(records + [make_record("tst-0009", "A")])


def test_templated_text_falls_below_the_diversity_threshold():
    cities = ["Arden", "Brill", "Cosa", "Dunmore", "Elk", "Fenwick", "Garo", "Holt"] * 40
    templated = [
        f"The city of {city} announced that its smart lighting project will be paid for by the city budget "
        f"and that a vendor will supply {n} sensors under a contract managed by the city transport department."
        for n, city in enumerate(cities)
    ]
    assert distinct_ngram_ratio(templated, window=2000) < DISTINCT_4GRAM_MIN
    assert distinct_ngram_ratio(list(TEXTS.values()), window=2000) > DISTINCT_4GRAM_MIN
