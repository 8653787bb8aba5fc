"""The stakeholder type (government, private, research, civil_society, international) from names and heads.

NER labels say little about type: a city government is tagged GPE, a
university ORG like a company. The words of the name decide instead, in an
order that settles the usual conflicts: an international name first, then a
research word, then a company's legal form ("Ltd" beats "City" in "City Water
Ltd"), then public-sector words, then community words; the head noun of a
generic actor and finally the NER label are the fallbacks.
"""

from __future__ import annotations

import re

from spacy.tokens import Span

from classifier.extraction.mentions import head_class
from classifier.extraction.patterns import (
    BUSINESS_WORDS,
    CIVIL_WORDS,
    GOV_NAME_WORDS,
    INTERNATIONAL_NAMES,
    INTERNATIONAL_WORDS,
    LEGAL_SUFFIXES,
    RESEARCH_WORDS,
)
from classifier.taxonomy import StakeholderType

__all__ = ["FOREIGN_COUNTRIES", "infer_type"]

_INTL_LOWER = {n.lower() for n in INTERNATIONAL_NAMES}
_WORD = re.compile(r"[\w'’-]+")
_PRIVATE_NAME_WORDS = {
    "company", "companies", "bank", "banks", "group", "holdings", "holding", "capital", "partners", "ventures",
    "developers", "developer", "estates", "properties", "energy", "power", "telecom", "telecoms", "mobile",
    "systems", "technologies", "technology", "solutions", "logistics", "motors", "airlines", "insurance",
    "consulting", "consultants", "industries", "enterprises", "trading", "investments", "fund", "labs",
    "analytics", "digital", "networks", "software", "homes", "construction", "engineering", "services",
}  # fmt: skip
_INTERNATIONAL_REGION = re.compile(
    r"^(the )?(eu|european|central american bank|pan american|ibero-american|inter-american|african union|"
    r"un|unesco|unicef|undp|oecd)\b"
)
_NATIONAL_BODY = {"government", "ministry", "embassy", "federal", "eximbank", "export-import", "cooperation", "aid"}
_CITY_NETWORK = re.compile(
    r"\b(cities network|network of cities|eurocities|cities alliance|mayors for|energy cities)\b"
)
# Countries that fund or partner abroad, with their adjective (a name using one is foreign unless the
# document keeps mentioning that country: then it is the document's own government).
FOREIGN_COUNTRIES = [
    ("germany", "german"), ("netherlands", "dutch"), ("japan", "japanese"), ("korea", "korean"),
    ("france", "french"), ("spain", "spanish"), ("sweden", "swedish"), ("norway", "norwegian"),
    ("denmark", "danish"), ("finland", "finnish"), ("switzerland", "swiss"), ("united kingdom", "british"),
    ("united states", "american"), ("u.s.", "us"), ("china", "chinese"), ("qatar", "qatari"),
    ("saudi arabia", "saudi"), ("united arab emirates", "emirati"), ("kuwait", "kuwaiti"), ("italy", "italian"),
    ("austria", "austrian"), ("belgium", "belgian"), ("canada", "canadian"), ("australia", "australian"),
    ("new zealand", "new zealander"), ("singapore", "singaporean"), ("israel", "israeli"),
    ("luxembourg", "luxembourgish"), ("ireland", "irish"), ("portugal", "portuguese"), ("india", "indian"),
    ("turkey", "turkish"), ("iceland", "icelandic"), ("estonia", "estonian"), ("czechia", "czech"),
]  # fmt: skip
_INTERNATIONAL_START = re.compile(r"^(the )?(international|world|global|united nations|inter-american|african union)\b")
_PUBLIC_WORDS = {"municipal", "metropolitan", "national", "state-owned", "public", "provincial", "federal", "city"}
_PUBLIC_BODIES = {"corporation", "authority", "board", "executive", "administration", "institute", "agency", "service"}
_CIVIL_ORG_WORDS = {"association", "associations", "federation", "union", "unions", "cooperative", "cooperatives",
                    "society", "trust", "trusts", "foundation", "forum", "council", "committee", "network",
                    "coalition", "group", "groups", "club", "alliance", "movement", "ngo", "ngos"}  # fmt: skip


def _words(text: str) -> list[str]:
    words = [w.lower().replace("’", "'") for w in _WORD.findall(text)]
    return [w[:-2] if w.endswith("'s") else w.strip("'") for w in words]


def _foreign(low: str, doc_text: str) -> bool:
    """A country or nationality in the name that the document rarely mentions elsewhere (so not its own)."""
    for country, demonym in FOREIGN_COUNTRIES:
        for word in (country, demonym):
            if re.search(rf"\b{re.escape(word)}\b", low):
                mentions = len(re.findall(rf"\b({re.escape(country)}|{re.escape(demonym)})\b", doc_text.lower()))
                return mentions <= 1
    return False


def infer_type(span: Span, label: str, head_word: str) -> StakeholderType:
    """Type of the party named by ``span`` (its NER label or "ACTOR", and its head noun)."""
    text = span.text
    low = text.lower()
    words = _words(text)
    wset = set(words)
    if (_INTERNATIONAL_REGION.match(low) or _CITY_NETWORK.search(low)) and not wset & LEGAL_SUFFIXES:
        return "international"  # "EU Cohesion Fund", "Eurocities network", "Resilient Cities Network"
    if wset & _NATIONAL_BODY and _foreign(low, span.doc.text):
        return "international"  # "Government of Germany", "French Development Agency", "Korea Eximbank"
    if label == "INTERNATIONAL" or low in _INTL_LOWER or any(w in low for w in INTERNATIONAL_WORDS):
        return "international"
    if any(n in low for n in ("world bank", "united nations", "european union", "un-habitat", "development bank")):
        return "international"
    if _INTERNATIONAL_START.match(low):
        return "international"
    # a foreign government or its agency: "a Korean export credit agency", "Government of the Netherlands"
    nationality = any(t.ent_type_ == "NORP" or (t.tag_ == "JJ" and t.is_title) for t in span)
    if nationality and head_class(head_word) == "government" and not span[0].is_title and label != "ORG":
        return "international"
    if wset & RESEARCH_WORDS:
        return "research"
    if wset & _PUBLIC_WORDS and wset & _PUBLIC_BODIES:
        return "government"  # "Ahmedabad Municipal Corporation", "National Housing Corporation"
    if wset & {"non-profit", "nonprofit", "charity", "charitable", "ngo", "ngos", "volunteer", "volunteers"}:
        return "civil_society"
    if wset & LEGAL_SUFFIXES and not (wset & {"authority", "ministry", "council"}):
        if not (len(words) > 1 and words[-1] in {"group", "holdings", "co", "as", "se"} and wset & GOV_NAME_WORDS):
            return "private"
    head = head_word.lower()
    civil_head = head in _CIVIL_ORG_WORDS or head_class(head) == "civil_society"
    if civil_head and wset & BUSINESS_WORDS:
        return "private"  # a chamber of commerce, a business association
    if wset & {"chamber"}:
        return "private"
    if head in ("group", "groups") and not wset & CIVIL_WORDS:
        return "private"
    if civil_head and wset & CIVIL_WORDS:
        return "civil_society"
    cls = head_class(head)
    if cls == "government" or (cls is None and wset & GOV_NAME_WORDS and label in ("GPE", "ORG")):
        if cls is None and wset & _PRIVATE_NAME_WORDS:
            return "private"
        return "government"
    if label == "GPE":
        return "government"
    if cls == "private":
        return "private"
    if cls == "civil_society" or wset & CIVIL_WORDS:
        if head in _CIVIL_ORG_WORDS - {"council", "committee", "group", "forum", "network"} and label == "ORG":
            return "civil_society"
        return "civil_society" if label != "ORG" or cls == "civil_society" else "private"
    if cls == "research":
        return "research"
    if label == "NORP":
        return "civil_society"
    return "private"
