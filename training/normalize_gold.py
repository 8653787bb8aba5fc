"""Apply the stakeholder conventions of data/GUIDELINES.md section 4.1 to the gold of every split.

The corpus was annotated by 14 writers who settled some questions differently
(how an advisory body is typed, where a generic actor's span ends, whether a
run of bare plurals is one party or several). The guidelines now say one thing
for each; this script rewrites the ``stakeholders`` field of every record to
follow them, deterministically, from the gold and the text alone (never from
the extractor's output). Texts, labels and every other field are untouched; a
line whose stakeholders do not change stays byte-identical. Running it again
changes nothing. It prints how many annotations each rule changed per split::

    python -m training.normalize_gold            # rewrite data/corpus/*.jsonl
    python -m training.normalize_gold --dry-run  # only count
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from training.corpus import CORPUS_DIR, CorpusRecord
from training.splits import SPLITS_FILE, assign_splits, load_splits

__all__ = [
    "RULES",
    "advisory_body_type",
    "lump_bare_groups",
    "normalize_file",
    "normalize_record",
    "run",
    "spc_is_lead",
    "trim_qualifiers",
]

Annotation = dict[str, Any]

# 4.1 (a): a consultative body is typed by who sits on it, not as a government unit.
_ADVISORY = re.compile(r"\b(advisory|consultative|liaison|round ?table|roundtable)\b|\bforum\b", re.I)
_PUBLIC_UNIT = re.compile(
    r"\b(ministry|department|agency|authority|institute|services?|directorate|bureau|office|commission|"
    r"parliament|assembly of)\b",
    re.I,
)

# 4.1 (b): a generic actor's span ends with its head noun and "of/for/from X"; a qualifier after it
# (where the group lives, "who ...", "chosen by lot", "based in ...") is not part of the span.
_QUALIFIER = re.compile(
    r"\s+(in|near|at|on|along|who|that|which|whose|(based|chosen|selected|concerned|working|established|"
    r"specialising|specializing|located|operating|registered)\s+(in|on|at|by|with|near|from|to))\s"
)

# 4.1 (c): bare plurals joined by "and"/"or"/commas are one party when they share type and role.
_GAPS = {", ", " and ", " or ", ", and ", ", or ", " & "}
_NOT_BARE_FIRST = {
    "a", "an", "the", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "several", "many", "some", "all", "both", "dozens", "hundreds", "thousands", "various", "numerous",
    "its", "their", "our", "this", "these", "those", "each", "every", "another", "most",
}  # fmt: skip


def _is_generic(text: str, before: str = "") -> bool:
    """Common words only: "residents near the harbour", not "Mayor's Commission on X" or "Committee on Y".

    The first word may be capitalised only at the start of a sentence (``before`` is the text before it).
    """
    words = re.findall(r"[^\W\d_][\w'’-]*", text)
    if not words or any(w[0].isupper() for w in words[1:]):
        return False
    sentence_start = not before.strip() or before.rstrip()[-1] in '.!?:;\n"“'
    return not words[0][0].isupper() or (text.startswith(words[0]) and sentence_start)


def _is_bare_plural(text: str, before: str) -> bool:
    words = text.split()
    if not words or not _is_generic(text, before) or any(ch.isdigit() for ch in text) or not words[-1].islower():
        return False
    if words[0].lower() in _NOT_BARE_FIRST or "(" in text:
        return False
    last = words[-1].lower().rstrip("'’")
    return last.endswith("s") or last in {"people", "women", "men", "fishermen", "police", "youth", "staff"}


def advisory_body_type(text: str, stakeholders: list[Annotation]) -> tuple[list[Annotation], int]:
    """A consultative body (advisory council, liaison committee, forum, round table) typed
    ``government`` becomes ``civil_society``; bodies whose name makes them a public unit stay."""
    changed = 0
    out = []
    for s in stakeholders:
        if s["type"] == "government" and _ADVISORY.search(s["text"]) and not _PUBLIC_UNIT.search(s["text"]):
            s = {**s, "type": "civil_society"}
            changed += 1
        out.append(s)
    return out, changed


def trim_qualifiers(text: str, stakeholders: list[Annotation]) -> tuple[list[Annotation], int]:
    """Cut a generic actor's span before a trailing qualifier: "Residents near the landfill" -> "Residents"."""
    changed = 0
    out = []
    for s in stakeholders:
        m = _QUALIFIER.search(s["text"])
        if m is not None and m.start() > 0 and _is_generic(s["text"][: m.start()], text[: s["start"]]):
            end = s["start"] + m.start()
            new_text = text[s["start"] : end].rstrip(" ,;:")
            if new_text:
                s = {**s, "text": new_text, "end": s["start"] + len(new_text)}
                changed += 1
        out.append(s)
    return out, changed


def lump_bare_groups(text: str, stakeholders: list[Annotation]) -> tuple[list[Annotation], int]:
    """Adjacent bare plurals with one type and role ("property developers, banks") become one span."""
    order = sorted(range(len(stakeholders)), key=lambda i: stakeholders[i]["start"])
    merged_into: dict[int, int] = {}
    spans = {i: dict(stakeholders[i]) for i in order}
    changed = 0
    prev = None
    for i in order:
        cur = spans[i]
        if prev is not None:
            p = spans[prev]
            gap = text[p["end"] : cur["start"]]
            if (
                gap in _GAPS
                and (p["type"], p["role"]) == (cur["type"], cur["role"])
                and _is_bare_plural(p["text"], text[: p["start"]])
                and _is_bare_plural(cur["text"], text[: cur["start"]])
            ):
                p["end"] = cur["end"]
                p["text"] = text[p["start"] : p["end"]]
                merged_into[i] = prev
                changed += 1
                continue
        prev = i
    out = [spans[i] for i in range(len(stakeholders)) if i not in merged_into]
    return out, changed


# 4.1 (e): in a Public-Private SPC document the jointly owned organization leads (section 1's table), even
# when it also builds or runs the project; writers had split it between lead and operator.
_VEHICLE = (r"(joint venture|jointly[- ]owned|special[- ]purpose|project company|\bSPC\b|\bSPV\b|owned by|"
            r"owned (?:jointly|in equal)|incorporated)")  # fmt: skip


def spc_is_lead(text: str, stakeholders: list[Annotation], label: str = "") -> tuple[list[Annotation], int]:
    """In a label-D document, a private party annotated ``operator`` that the text calls the joint
    venture / jointly owned / special purpose company ("X Ltd, a special purpose company owned by ...")
    becomes ``lead``."""
    if label != "D":
        return stakeholders, 0
    changed = 0
    out = []
    for s in stakeholders:
        if s["type"] == "private" and s["role"] == "operator":
            name = re.escape(s["text"])
            subject = re.search(
                name + r"[^.;]{0,60}?\b(is|was|will be|has been|became|, a|, an|, the)\b[^.;]{0,60}?" + _VEHICLE,
                text,
                re.I,
            )
            apposed = re.search(_VEHICLE + r"[^.;]{0,40}?(called|named|known as|,|:)\s*(the\s)?" + name, text, re.I)
            if subject or apposed:
                s = {**s, "role": "lead"}
                changed += 1
        out.append(s)
    return out, changed


RULES: dict[str, Callable[..., tuple[list[Annotation], int]]] = {
    "advisory-body-type": advisory_body_type,
    "trim-qualifiers": trim_qualifiers,
    "lump-bare-groups": lump_bare_groups,
    "spc-is-lead": spc_is_lead,
}


def normalize_record(record: dict[str, Any]) -> tuple[dict[str, Any], Counter]:
    """The record with its stakeholders normalized, and how many annotations each rule changed."""
    counts: Counter = Counter()
    stakeholders = [dict(s) for s in record.get("stakeholders", [])]
    for s in stakeholders:
        if record["text"][s["start"] : s["end"]] != s["text"]:
            raise ValueError(f"{record['id']}: gold span {s['text']!r} does not match its offsets; fix it first")
    for name, rule in RULES.items():
        if rule is spc_is_lead:
            stakeholders, n = rule(record["text"], stakeholders, record.get("label", ""))
        else:
            stakeholders, n = rule(record["text"], stakeholders)
        counts[name] += n
    for s in stakeholders:
        if record["text"][s["start"] : s["end"]] != s["text"]:
            raise ValueError(f"{record['id']}: normalized span {s['text']!r} does not match its offsets")
    return {**record, "stakeholders": stakeholders}, counts


def normalize_file(path: Path, split_of: dict[str, str], *, write: bool = True) -> dict[str, Counter]:
    """Normalize one JSONL file in place; counts per split and rule. Unchanged lines are kept as they were."""
    lines = path.read_text(encoding="utf-8").split("\n")
    counts: dict[str, Counter] = {}
    out = []
    for line in lines:
        if not line.strip():
            out.append(line)
            continue
        record = json.loads(line)
        new, changed = normalize_record(record)
        split = split_of.get(record["id"], "unassigned")
        counts.setdefault(split, Counter()).update(changed)
        if new["stakeholders"] != record.get("stakeholders", []):
            CorpusRecord.model_validate(new)  # bad output is an error, never written
            line = json.dumps(new, ensure_ascii=False)
        out.append(line)
    if write:
        path.write_text("\n".join(out), encoding="utf-8")
    return counts


def run(corpus_dir: Path = CORPUS_DIR, splits_file: Path = SPLITS_FILE, *, write: bool = True) -> dict[str, Counter]:
    """Normalize every corpus file; returns annotations changed per split and rule."""
    from training.corpus import load_corpus

    split_of = assign_splits(load_corpus(corpus_dir), load_splits(splits_file))
    total: dict[str, Counter] = {}
    for path in sorted(corpus_dir.glob("*.jsonl")):
        for split, c in normalize_file(path, split_of, write=write).items():
            total.setdefault(split, Counter()).update(c)
    return total


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--splits-file", type=Path, default=SPLITS_FILE)
    parser.add_argument("--dry-run", action="store_true", help="Count the changes without writing.")
    args = parser.parse_args(argv)
    total = run(args.corpus, args.splits_file, write=not args.dry_run)
    splits = sorted(total)
    print(f"{'rule':<22}" + "".join(f"{s:>12}" for s in splits))
    for name in RULES:
        print(f"{name:<22}" + "".join(f"{total[s][name]:>12}" for s in splits))
    print("dry run: nothing written" if args.dry_run else "written")


if __name__ == "__main__":
    main()
