"""The gold normalization: each convention of GUIDELINES 4.1 on hand-made records, files rewritten safely, reruns."""

from __future__ import annotations

import json

import pytest

from tests.conftest import make_record
from training.normalize_gold import (
    advisory_body_type,
    lump_bare_groups,
    normalize_file,
    normalize_record,
    run,
    spc_is_lead,
    trim_qualifiers,
)


def ann(text: str, part: str, stype: str = "civil_society", role: str = "beneficiary") -> dict:
    start = text.index(part)
    return {"text": part, "start": start, "end": start + len(part), "type": stype, "role": role}


def test_advisory_bodies_are_typed_by_their_members_not_as_government():
    text = "The Digital Inclusion Advisory Council and the Advisory Services Department met the Transport Ministry."
    gold = [
        ann(text, "Digital Inclusion Advisory Council", "government", "advisor"),
        ann(text, "Advisory Services Department", "government", "lead"),
        ann(text, "Transport Ministry", "government", "regulator"),
    ]
    out, changed = advisory_body_type(text, gold)
    assert changed == 1
    assert [s["type"] for s in out] == ["civil_society", "government", "government"]


def test_qualifiers_after_a_generic_head_are_cut_and_names_are_kept():
    text = (
        "Residents near the landfill were asked. The Mayor's Commission on Disability Issues and companies that "
        "hire graduates joined; a joint working committee met."
    )
    gold = [
        ann(text, "Residents near the landfill"),
        ann(text, "Mayor's Commission on Disability Issues", "government", "advisor"),
        ann(text, "companies that hire graduates", "private", "participant"),
        ann(text, "joint working committee", "government", "lead"),
    ]
    out, changed = trim_qualifiers(text, gold)
    assert changed == 2
    assert [s["text"] for s in out] == [
        "Residents", "Mayor's Commission on Disability Issues", "companies", "joint working committee",
    ]  # fmt: skip
    assert all(text[s["start"] : s["end"]] == s["text"] for s in out)


def test_bare_plurals_are_lumped_counted_groups_and_names_are_not():
    text = "Logistics firms, insurers and app developers advise; two banks, a software firm and Belfius, Proximus too."
    gold = [
        ann(text, "Logistics firms", "private", "advisor"),
        ann(text, "insurers", "private", "advisor"),
        ann(text, "app developers", "private", "advisor"),
        ann(text, "two banks", "private", "advisor"),
        ann(text, "a software firm", "private", "advisor"),
        ann(text, "Belfius", "private", "advisor"),
        ann(text, "Proximus", "private", "advisor"),
    ]
    out, changed = lump_bare_groups(text, gold)
    assert changed == 2
    assert [s["text"] for s in out] == [
        "Logistics firms, insurers and app developers", "two banks", "a software firm", "Belfius", "Proximus",
    ]  # fmt: skip


def test_lumping_needs_one_type_and_role():
    text = "Residents and businesses were consulted."
    gold = [ann(text, "Residents"), ann(text, "businesses", "private", "advisor")]
    assert lump_bare_groups(text, gold) == (gold, 0)


def test_the_jointly_owned_company_leads_only_in_a_d_document():
    text = (
        "Tuas Circular Materials Pte Ltd is a joint venture of the city and two recyclers; Sensorica Ltd installs bins."
    )
    gold = [
        ann(text, "Tuas Circular Materials Pte Ltd", "private", "operator"),
        ann(text, "Sensorica Ltd", "private", "operator"),
    ]
    out, changed = spc_is_lead(text, gold, "D")
    assert changed == 1 and [s["role"] for s in out] == ["lead", "operator"]
    assert spc_is_lead(text, gold, "C") == (gold, 0)


def test_normalize_record_checks_offsets_and_counts_per_rule():
    text = "Households in the zone get meters."
    record = make_record("tst-0001", "A", text * 3, stakeholders=[ann(text, "Households in the zone")]).model_dump()
    new, counts = normalize_record(record)
    assert counts["trim-qualifiers"] == 1 and new["stakeholders"][0]["text"] == "Households"
    assert {k: v for k, v in new.items() if k != "stakeholders"} == {
        k: v for k, v in record.items() if k != "stakeholders"
    }


def test_files_are_rewritten_only_where_gold_changes_and_a_rerun_changes_nothing(tmp_path):
    plain = make_record("tst-0001", "A", stakeholders=[]).model_dump()
    text = "Residents near the harbour and fishermen were consulted by the Velmora council about the new quay."
    changing = make_record("tst-0002", "B", text, stakeholders=[ann(text, "Residents near the harbour")]).model_dump()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    first_line = json.dumps(plain, ensure_ascii=False, indent=None, separators=(", ", ": "))
    path = corpus / "t.jsonl"
    path.write_text(first_line + "\n" + json.dumps(changing, ensure_ascii=False) + "\n", encoding="utf-8")
    splits = tmp_path / "splits.json"
    splits.write_text(json.dumps({"train": ["tst-0001"], "validation": ["tst-0002"], "test": []}), encoding="utf-8")

    dry = run(corpus, splits, write=False)
    assert dry["validation"]["trim-qualifiers"] == 1
    assert "Residents near the harbour" in path.read_text(encoding="utf-8")  # a dry run writes nothing
    counts = run(corpus, splits)
    assert counts["validation"]["trim-qualifiers"] == 1 and sum(counts["train"].values()) == 0
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == first_line  # untouched record: the same bytes
    assert json.loads(lines[1])["stakeholders"][0]["text"] == "Residents"
    assert json.loads(lines[1])["text"] == text
    again = run(corpus, splits)
    assert all(sum(c.values()) == 0 for c in again.values())


def test_a_bad_record_is_an_error_and_the_file_is_left_alone(tmp_path):
    text = "Residents near the harbour were consulted about the quay and the new ferry timetable for the island."
    bad = make_record("tst-0003", "A", text, stakeholders=[ann(text, "Residents near the harbour")]).model_dump()
    bad["stakeholders"][0]["end"] += 1  # offsets that do not match the span text
    path = tmp_path / "t.jsonl"
    original = json.dumps(bad, ensure_ascii=False) + "\n"
    path.write_text(original, encoding="utf-8")
    with pytest.raises(ValueError, match="does not match"):
        normalize_file(path, {"tst-0003": "train"})
    assert path.read_text(encoding="utf-8") == original


def test_the_shipped_corpus_follows_the_conventions():
    counts = run(write=False)
    assert all(sum(c.values()) == 0 for c in counts.values()), counts
