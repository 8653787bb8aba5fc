"""Alias merging: all mentions of one party in a document become one stakeholder.

"Seoul Metropolitan Government", "SMG" and "the city government" are one party;
so are "AquaMtaa Kenya Limited" and "AquaMtaa", or "Inzira Systems Ltd, a Kigali
firm". Merging keeps the stakeholder list to one entry per party (as the
annotation guidelines ask) and pools the role evidence of every mention.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from spacy.tokens import Doc

from classifier.extraction.mentions import Candidate, head_class
from classifier.extraction.patterns import ACTOR_HEADS, LEGAL_SUFFIXES

__all__ = ["Party", "acronym", "acronym_of", "merge_candidates", "normalize_name"]

_ARTICLES = {"the", "a", "an", "its", "their", "our", "his", "her", "this", "these", "those", "le", "la", "les", "l"}
# Legal forms dropped from the end of a name: "Hill Country Developers PLC" is "Hill Country Developers".
_LEGAL_FORMS = {
    "ltd", "limited", "plc", "inc", "llc", "gmbh", "ag", "sa", "sarl", "sas", "spa", "bv", "nv", "pty", "pvt",
    "co", "corp", "cc", "kg", "oy", "ab", "pte", "sdn", "bhd", "srl", "s r l", "lp", "llp", "jsc", "pjsc", "rf",
    "kft", "s a", "s a s", "a s", "sro", "s r o", "ltda", "se", "doo", "d o o", "as", "asa", "oyj", "spol",
    "pcl", "wll", "sae", "sal", "ead", "ood", "dd", "sem", "eirl", "tbk", "kk", "nl", "sl", "slu",
}  # fmt: skip
_LEGAL_SEQUENCES = sorted(
    {
        ("s", "a", "de", "c", "v"), ("sa", "de", "cv"), ("s", "a", "p", "i", "de", "c", "v"), ("sp", "z", "o", "o"),
        ("s", "a", "s"), ("s", "r", "l"), ("s", "r", "o"), ("d", "o", "o"), ("w", "l", "l"), ("s", "a", "e"),
        ("s", "a", "u"), ("s", "l", "u"), ("s", "p", "a"), ("s", "a"), ("a", "s"), ("d", "d"), ("s", "l"),
        ("s", "e", "m"), ("b", "v"), ("n", "v"), ("a", "g"), ("k", "s", "c", "c"), ("pty", "ltd"), ("pvt", "ltd"),
        ("private", "limited"), ("sdn", "bhd"), ("co", "ltd"), ("rf", "pty", "ltd"),
    },
    key=len,
    reverse=True,
)  # fmt: skip
_ACRONYM_STOP = {"of", "and", "the", "for", "de", "du", "des", "la", "le", "&", "in", "on", "at", "to", "d"}
_MUNICIPAL = {
    "city", "council", "municipal", "municipality", "county", "commune", "town", "assembly", "metropolitan",
    "district", "administration", "ville", "government", "mairie", "borough", "state", "region", "province",
}  # fmt: skip
# "the company" points back to the company named before; "the contractor" may be a new, unnamed party.
_GENERIC_COMPANY = {"company", "firm", "startup", "start-up", "group", "consortium", "corporation", "venture", "spc"}
_MUNICIPAL_ANAPHORS = {
    "city", "council", "municipality", "county", "commune", "town", "assembly", "government", "administration",
    "state", "district", "region", "province", "hall",
}  # fmt: skip


@lru_cache(maxsize=65536)
def normalize_name(text: str) -> str:
    """Lower case, no accents, no leading article or possessive, no punctuation: "The City's" -> "city".

    The same rule serves alias merging and the evaluation's name matching
    (training/evaluate_extraction.py), so that both agree on what "the same name" is.
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().replace("’", "'")
    text = re.sub(r"\([^)]*\)", " ", text)  # "Agence Française de Développement (AFD)"
    text = re.sub(r"'s\b|s'(?=\s|$)", lambda m: "" if m.group(0) == "'s" else "s", text)
    text = re.sub(r"[^\w\s]", " ", text)
    words = text.split()
    while words and words[0] in _ARTICLES:
        words = words[1:]
    changed = True
    while changed and len(words) > 1:
        changed = False
        if words[-1] in _LEGAL_FORMS:
            words, changed = words[:-1], True
            continue
        for seq in _LEGAL_SEQUENCES:  # "S.A. de C.V.", "sp. z o.o.", "W.L.L.": forms written with dots
            if len(words) > len(seq) and tuple(words[-len(seq) :]) == seq:
                words, changed = words[: -len(seq)], True
                break
    return " ".join(words)


@lru_cache(maxsize=65536)
def _core_words(text: str) -> tuple[str, ...]:
    """The normalized words without legal suffixes ("Nyumba Bora Developers Ltd" -> nyumba bora developers)."""
    words = normalize_name(text).split()
    while len(words) > 1 and words[-1] in _CORE_DROP:
        words = words[:-1]
    return tuple(words)


def acronym_of(short: str, text: str) -> bool:
    """Whether ``short`` abbreviates ``text``: each word gives a prefix ("AfDB" ~ African Development Bank)."""
    words = [w.lower() for w in re.findall(r"[\w]+", text) if w.lower() not in _ACRONYM_STOP]
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words = words[:-1]
    letters = short.lower().replace(".", "").replace("&", "")
    if len(words) < 2 or not letters or len(letters) > 3 * len(words):
        return False

    def fits(i: int, j: int) -> bool:
        if j == len(words):
            return i == len(letters)
        if i == len(letters):
            return False
        w = words[j]
        return any(letters[i : i + n] == w[:n] and fits(i + n, j + 1) for n in range(1, min(len(w), 3) + 1))

    return fits(0, 0)


def acronym(text: str) -> str:
    """Initials of the capitalised words: "Kampala Capital City Authority" -> "KCCA"."""
    words = [w for w in re.findall(r"[\w]+", text) if w.lower() not in _ACRONYM_STOP]
    while words and words[-1].lower() in LEGAL_SUFFIXES:
        words = words[:-1]
    return "".join(w[0].upper() for w in words if w[:1].isupper())


_CORE_DROP = LEGAL_SUFFIXES | {"pty", "rf"}
# Words that turn a place into its government: "Bilbao" -> "Bilbao City Council", "City of St Gallen".
_PUBLIC_FORM = {
    "city", "council", "government", "municipality", "municipal", "county", "commune", "town", "district",
    "metropolitan", "administration", "assembly", "of", "de", "du", "la", "the", "capital", "mairie", "ville",
    "regional", "provincial", "state", "prefecture", "local", "borough", "corporation",
}  # fmt: skip


@dataclass
class Party:
    """Mentions believed to name one stakeholder; ``canonical`` is the fullest one."""

    members: list[Candidate] = field(default_factory=list)

    @property
    def canonical(self) -> Candidate:
        named = [c for c in self.members if not c.anaphor] or self.members
        return max(named, key=lambda c: (c.named, c.source != "pattern" or c.named, c.end - c.start, -c.start))

    @property
    def first(self) -> int:
        return min(c.start for c in self.members)


def _is_acronym(doc: Doc, c: Candidate) -> bool:
    text = doc[c.start : c.end].text
    return c.end - c.start == 1 and 2 <= len(text) <= 8 and sum(ch.isupper() for ch in text) >= 2


def _appositive_links(doc: Doc, cands: list[Candidate]) -> dict[int, int]:
    """Indefinite generic phrases that describe a named one: "X, a Kigali firm", "a Tanzanian IT firm, X"."""
    by_token = {t: i for i, c in enumerate(cands) for t in range(c.start, c.end)}
    links = {}
    for i, c in enumerate(cands):
        if c.named or c.anaphor or c.source != "pattern":
            continue
        first = doc[c.start - 1].lower_ if c.start > 0 else ""
        if first not in ("a", "an") and doc[c.start].lower_ not in ("a", "an"):
            continue
        head = doc[c.head]
        other = None
        if head.dep_ == "appos" and head.head.i in by_token:
            other = by_token[head.head.i]
        elif head.dep_ == "attr" and head.head.lower_ in ("is", "was", "are", "be", "remains", "becomes"):
            subj = [t for t in head.head.children if t.dep_ in ("nsubj", "nsubjpass")]
            if subj and subj[0].i in by_token:
                other = by_token[subj[0].i]
        else:
            for child in head.children:
                if child.dep_ == "appos" and child.i in by_token:
                    other = by_token[child.i]
                    break
        if other is not None and other != i and cands[other].named and head_class(head.lower_) == "private":
            links[i] = other
    return links


def merge_candidates(doc: Doc, cands: list[Candidate], merge: bool = True) -> list[Party]:
    """Group the document's candidates into parties, in order of first mention."""
    if not merge:
        return [Party([c]) for c in cands if not c.anaphor]
    parties: list[Party] = []
    owner: dict[int, Party] = {}
    links = _appositive_links(doc, cands)
    keys: dict[str, Party] = {}
    acronyms: dict[str, Party] = {}

    def join(i: int, party: Party) -> None:
        party.members.append(cands[i])
        owner[i] = party

    for i, c in enumerate(cands):
        if i in owner:
            continue
        text = doc[c.start : c.end].text
        if c.anaphor:
            target = _resolve_anaphor(doc, c, parties)
            if target is not None:
                join(i, target)
            elif doc[c.head].lower_ in _MUNICIPAL_ANAPHORS or (c.end - c.start > 1):
                party = Party()
                parties.append(party)
                join(i, party)
                keys.setdefault(" ".join(_core_words(text)), party)
            continue
        if i in links and links[i] in owner:
            join(i, owner[links[i]])
            continue
        key = " ".join(_core_words(text))
        target = keys.get(key)
        if target is None and _is_acronym(doc, c):
            target = acronyms.get(text.upper()) or next(
                (p for p in parties for m in p.members if m.named and not _is_acronym(doc, m)
                 and acronym_of(text, doc[m.start : m.end].text)), None)  # fmt: skip
            if target is None and c.start >= 2 and doc[c.start - 1].text == "(":
                prev = [p for p in parties if any(m.end == c.start - 1 for m in p.members)]
                target = prev[0] if prev else None
        if target is None and c.named:
            target = _short_form(doc, c, parties)
        if target is None and c.named and not _is_acronym(doc, c):
            target = next(
                (p for p in parties for m in p.members if _is_acronym(doc, m)
                 and acronym_of(doc[m.start : m.end].text, text)), None)  # fmt: skip
        if target is None:
            target = Party()
            parties.append(target)
        join(i, target)
        keys.setdefault(key, target)
        if c.named and not _is_acronym(doc, c):
            acr = acronym(text)
            if len(acr) >= 2:
                acronyms.setdefault(acr, target)
        for j, k in links.items():
            if k == i and j not in owner:
                join(j, target)
    return sorted(parties, key=lambda p: p.first)


def _contains(long_: tuple[str, ...], short: tuple[str, ...]) -> int:
    """Where ``short`` occurs as a run of words inside ``long_`` (-1 if it does not)."""
    for i in range(len(long_) - len(short) + 1):
        if long_[i : i + len(short)] == short:
            return i
    return -1


def _short_form(doc: Doc, c: Candidate, parties: list[Party]) -> Party | None:
    """One name inside the other: "AquaMtaa" / "AquaMtaa Kenya Limited", "Bilbao" / "Bilbao City Council".

    The longer name may add a legal form or company words after the short one, or only public-sector
    words around it (a place standing for its government); a new unit ("... planning department") or
    a different organization stays apart.
    """
    words = _core_words(doc[c.start : c.end].text)
    if not words:
        return None
    for party in parties:
        for m in party.members:
            if m.anaphor or not m.named:
                continue
            other = _core_words(doc[m.start : m.end].text)
            short, long_ = (words, other) if len(words) < len(other) else (other, words)
            if not short or len(short) == len(long_):
                continue
            at = _contains(long_, short)
            if at < 0:
                continue
            extra = long_[:at] + long_[at + len(short) :]
            if all(w in _PUBLIC_FORM for w in extra):
                return party  # "Changhua County" in "Changhua County Government", "Yamoussoukro" in "Commune de ..."
            if at > 0:
                continue
            if any(w in ACTOR_HEADS and head_class(w) in ("government", "research") for w in extra):
                continue  # "Nairobi City County" is not "Nairobi City County planning department"
            if short[-1] in ACTOR_HEADS and len(short) == 1:
                continue
            return party
    return None


def _resolve_anaphor(doc: Doc, c: Candidate, parties: list[Party]) -> Party | None:
    """The party a definite generic mention points back to, or None."""
    head = doc[c.head].lower_
    singular = head[:-1] if head.endswith("s") and not head.endswith("ss") else head
    before = [p for p in parties if p.first < c.start]
    if not before:
        return None

    def names(p: Party) -> set[str]:
        return {w for m in p.members if not m.anaphor for w in normalize_name(doc[m.start : m.end].text).split()}

    municipal = singular in _MUNICIPAL_ANAPHORS
    ordered = before if municipal else sorted(before, key=lambda p: -max(m.start for m in p.members))
    for p in ordered:
        if singular in names(p) or head in names(p):
            return p
    cls = head_class(singular) or head_class(head)
    for p in ordered:
        canon = p.canonical
        words = names(p)
        if municipal:
            if words & _MUNICIPAL and not words & {"ministry", "department", "agency", "police", "company"}:
                return p
        elif singular in _GENERIC_COMPANY and (canon.label in ("ORG",) or canon.named) and _looks_private(doc, canon):
            return p
        elif cls == "research" and words & {"university", "institute", "college"}:
            return p
    return None


def _looks_private(doc: Doc, c: Candidate) -> bool:
    words = set(normalize_name(doc[c.start : c.end].text).split())
    return bool(words & LEGAL_SUFFIXES) or not words & _MUNICIPAL and head_class(doc[c.head].lower_) != "research"
