"""Turn hand-written corpus drafts into JSONL with exact stakeholder offsets.

Writers draft documents in a plain-text format that is easy to write by hand
(no JSON escaping); this module only parses it and computes character offsets,
it never generates text. Usage::

    .venv/bin/python -m training.drafts data/drafts/eas.txt -o data/corpus/eas.jsonl

Draft format, one block per document::

    === id: eas-0001 | label: A | city: Daejeon | country: South Korea | genre: press_release | sector: mobility | testbed: no | international: none
    The text of the document, any number of lines and paragraphs.
    --- stakeholders
    Daejeon Metropolitan City | government | lead
    Hyundai Autoever | private | operator
    ===

The stakeholder block is optional. Each stakeholder line names an exact
substring of the text (its first occurrence is used, or the n-th with a
trailing ``@n`` on the name), a type and a role.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from classifier.taxonomy import GENRES, INTERNATIONAL_LEVELS, LABELS, ROLES, STAKEHOLDER_TYPES
from training.checks import find_label_words, find_repeated_sentences

HEADER = re.compile(r"^===\s*(id:.*)$")


class DraftError(ValueError):
    """A draft block that cannot become a valid corpus record."""


def _header(line: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in line.split("|"):
        key, _, value = part.partition(":")
        fields[key.strip().lower()] = value.strip()
    return fields


def _offset(text: str, name: str) -> tuple[int, int, str]:
    nth = 1
    match = re.match(r"^(.*?)@(\d+)$", name)
    if match:
        name, nth = match.group(1).strip(), int(match.group(2))
    start = -1
    for _ in range(nth):
        start = text.find(name, start + 1)
        if start < 0:
            raise DraftError(f"stakeholder {name!r} is not in the text")
    return start, start + len(name), name


def parse_block(header: str, lines: list[str]) -> dict:
    """One draft block to one corpus record, with every check a writer needs."""
    meta = _header(header)
    doc_id = meta.get("id", "?")
    try:
        split_at = next(i for i, line in enumerate(lines) if line.strip().lower() == "--- stakeholders")
    except StopIteration:
        split_at = len(lines)
    text = "\n".join(lines[:split_at]).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    stakeholders = []
    for raw in lines[split_at + 1 :]:
        if not raw.strip():
            continue
        parts = [p.strip() for p in raw.split("|")]
        if len(parts) != 3:
            raise DraftError(f"{doc_id}: stakeholder line needs 'name | type | role': {raw!r}")
        name, stype, role = parts
        if stype not in STAKEHOLDER_TYPES:
            raise DraftError(f"{doc_id}: unknown type {stype!r}")
        if role not in ROLES:
            raise DraftError(f"{doc_id}: unknown role {role!r}")
        try:
            start, end, name = _offset(text, name)
        except DraftError as exc:
            raise DraftError(f"{doc_id}: {exc}") from None
        stakeholders.append({"text": name, "start": start, "end": end, "type": stype, "role": role})
    record = {
        "id": doc_id,
        "text": text,
        "label": meta.get("label", ""),
        "city": meta.get("city", ""),
        "country": meta.get("country", ""),
        "genre": meta.get("genre", ""),
        "sector": meta.get("sector", ""),
        "stakeholders": stakeholders,
        "testbed": meta.get("testbed", "").lower() in ("yes", "true"),
        "international": meta.get("international", ""),
    }
    problems = []
    if record["label"] not in LABELS:
        problems.append(f"label {record['label']!r}")
    if record["genre"] not in GENRES:
        problems.append(f"genre {record['genre']!r}")
    if record["international"] not in INTERNATIONAL_LEVELS:
        problems.append(f"international {record['international']!r}")
    if meta.get("testbed", "").lower() not in ("yes", "no", "true", "false"):
        problems.append("testbed must be yes/no")
    if not record["city"] or not record["country"]:
        problems.append("city and country are required")
    words = len(text.split())
    if not 40 <= words <= 600:
        problems.append(f"{words} words (40 to 600)")
    leaks = find_label_words(text)
    if leaks:
        problems.append(f"label wording in text: {leaks[0]!r}")
    if problems:
        raise DraftError(f"{doc_id}: " + "; ".join(problems))
    return record


def parse_drafts(source: str) -> tuple[list[dict], list[str]]:
    """All blocks of a draft file: the good records and one message per bad block."""
    records: list[dict] = []
    errors: list[str] = []
    header: str | None = None
    body: list[str] = []

    def flush() -> None:
        if header is None:
            return
        try:
            records.append(parse_block(header, body))
        except DraftError as exc:
            errors.append(str(exc))

    for line in source.splitlines():
        match = HEADER.match(line.strip())
        if match:
            flush()
            header, body = match.group(1), []
        elif line.strip() == "===":
            flush()
            header, body = None, []
        elif header is not None:
            body.append(line)
    flush()
    seen: set[str] = set()
    for record in records:
        if record["id"] in seen:
            errors.append(f"{record['id']}: duplicate id")
        seen.add(record["id"])
    return records, errors


def _repeats(records: list[dict]) -> dict[str, list[str]]:
    """Within one writer's drafts, any sentence of 8+ words used twice is reported (the corpus allows 2)."""
    from training.corpus import CorpusRecord

    return find_repeated_sentences([CorpusRecord.model_validate(r) for r in records], max_docs=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("drafts", type=Path, nargs="+")
    parser.add_argument("-o", "--output", type=Path, help="JSONL to write (all drafts together)")
    args = parser.parse_args(argv)
    records: list[dict] = []
    errors: list[str] = []
    for path in args.drafts:
        got, bad = parse_drafts(path.read_text(encoding="utf-8"))
        records += got
        errors += [f"{path.name}: {e}" for e in bad]
    for error in errors:
        print("ERROR", error, file=sys.stderr)
    for sentence, ids in _repeats(records).items():
        print(f"REPEATED in {', '.join(ids)}: {sentence}", file=sys.stderr)
    labels = {label: sum(r["label"] == label for r in records) for label in LABELS}
    annotated = sum(bool(r["stakeholders"]) for r in records)
    print(f"{len(records)} documents, {annotated} with stakeholders, per label {labels}, {len(errors)} errors")
    if args.output and not errors:
        with args.output.open("w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        print(f"wrote {args.output}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
