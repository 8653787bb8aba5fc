from training.drafts import parse_drafts

DRAFT = """=== id: tst-0001 | label: A | city: Velmora | country: Testland | genre: news_item | sector: energy | testbed: no | international: none
The municipal works department of Velmora will replace 2,000 sodium street lamps with connected LED fixtures this
winter, paid from the capital budget. Lumatek GmbH won the tender and installs the controllers under a fixed-price
contract; the council owns the lamps and the data, and Lumatek GmbH is paid per installed unit.
--- stakeholders
municipal works department | government | lead
Lumatek GmbH@2 | private | operator
===
=== id: tst-0002 | label: E | city: Velmora | country: Testland | genre: news_item | sector: energy | testbed: yes | international: none
A private-led scheme that is far too short.
===
"""


def test_drafts_become_records_with_exact_offsets_and_bad_blocks_are_reported():
    records, errors = parse_drafts(DRAFT)
    [record] = records
    for span in record["stakeholders"]:
        assert record["text"][span["start"] : span["end"]] == span["text"]
    second = record["stakeholders"][1]["start"]
    assert second == record["text"].index("Lumatek GmbH", record["text"].index("Lumatek GmbH") + 1)
    [error] = errors
    assert "tst-0002" in error and "words" in error and "private-led" in error
