"""Candidate mentions: named organizations from NER, corrected, plus generic actors found by head nouns.

NER alone misses most parties in project documents ("local startups", "two
banks", "residents of Kibera") and mislabels others (a city government is a
GPE, a place). So mentions come from three sources, then overlapping ones keep
the longest: NER entities (ORG, GPE, NORP) with fixed boundaries, noun phrases
headed by an actor noun (``patterns.ACTOR_HEADS``, found with a Matcher) and
international organizations from a phrase list.
"""

from __future__ import annotations

from dataclasses import dataclass

from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span, Token
from spacy.util import filter_spans

from classifier.extraction.patterns import (
    ACTOR_HEADS,
    ANAPHOR_HEADS,
    CIVIL_HEADS,
    COMPANY_FORMS,
    COMPANY_FORMS_UPPER,
    FOREIGN_HEADS,
    GOV_HEADS,
    GOV_NAME_WORDS,
    GOV_SUFFIXES,
    NON_ACTOR_LAST,
    NOT_ACTORS,
    PRIVATE_HEADS,
    RESEARCH_HEADS,
    STRIP_LEADING,
)
from classifier.extraction.trained import LABEL_PREFIX, label_type

__all__ = ["Candidate", "find_candidates", "head_class", "is_named"]

_LEFT_TAGS = {"DT", "PDT", "JJ", "JJR", "JJS", "NN", "NNS", "NNP", "NNPS", "CD", "HYPH", "POS", "PRP$", "VBN", "VBG"}
_RIGHT_TAGS = {"DT", "JJ", "JJR", "JJS", "NN", "NNS", "NNP", "NNPS", "CD", "HYPH", "POS", "VBN", "VBG", "FW"}
_NOUN_TAGS = {"NN", "NNS", "NNP", "NNPS", "FW"}
_DEFINITE = {"the", "its", "their", "our", "this", "that", "these", "those", "his", "her", "your", "my"}
_INDEFINITE = {"a", "an", "one", "another", "some", "any"}
_PREP_EXTEND = {"of", "from"}
_ROMANCE_OF = {"de", "del", "des", "du", "da", "do", "di", "d'", "della", "dos", "das", "für", "der"}
_PARTNERSHIP_HEADS = {"venture", "ventures", "consortium", "partnership", "alliance", "group", "coalition"}
_NUMBER_WORDS = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "several", "many"}
_ORG_HEADS_FOR = {
    "centre", "center", "institute", "department", "ministry", "commission", "agency", "council", "office",
    "authority", "bureau", "directorate", "fund", "foundation", "alliance", "association", "federation",
    "chamber", "committee", "unit", "secretariat", "forum", "network", "partnership", "coalition", "society",
}  # fmt: skip
# Heads that name a unit of the organization after "of": "Department of Roads", "School of Public Health".
_OWNED_UNITS = {
    "department", "ministry", "school", "college", "faculty", "institute", "centre", "center", "division",
    "unit", "office", "bureau", "directorate", "agency", "chamber", "university", "council", "committee",
    "residents", "citizens", "people", "communities", "municipality", "city", "government", "county",
}  # fmt: skip
# Words of place names ("Panama City", "Kano State"): a GPE with only these is a place unless it acts.
_PLACE_WORDS = {"city", "county", "district", "state", "province", "region", "town", "ward", "borough", "public"}
_PLACE_LAST = {"city", "region", "district", "capital", "province", "town", "area", "valley", "quarter", "county"}
_BODY_LAST = {"forum", "council", "committee", "board", "panel", "roundtable", "table", "alliance", "network", "lab"}
_CONSULTATIVE = {
    "advisory", "consultative", "stakeholder", "stakeholders", "resilience", "smart", "innovation", "round",
    "partners", "liaison", "steering", "pilot", "joint", "reference", "expert", "experts",
}  # fmt: skip
# Words that make a name a person's title.
TITLES = {
    "councillor", "councilor", "mayor", "deputy", "head", "member", "members", "minister", "director",
    "chair", "chairperson", "chairman", "inspector", "officer", "executive", "secretary", "governor", "mr",
    "mrs", "ms", "dr", "prof", "hon", "cllr", "commissioner", "manager", "clerk", "president", "ceo",
}  # fmt: skip
# Heads that are places unless an "of/for" phrase or a name makes them an organization.
_PLACE_HEADS = {"centre", "center", "chamber", "hall", "hub", "park", "office", "offices", "centres", "centers"}
_GOV_OF = {
    "city", "municipality", "county", "commune", "town", "ville", "government", "district", "republic",
    "state", "province", "region", "municipal", "council", "prefecture", "borough", "mairie", "kingdom",
}  # fmt: skip


@dataclass
class Candidate:
    """A mention before merging: token range, where it came from and how it refers."""

    start: int
    end: int
    source: str  # "ner", "pattern" or "international"
    label: str  # the NER label, "ACTOR" or "INTERNATIONAL"
    head: int  # token index of the head noun
    named: bool  # carries a proper name, not only common words
    anaphor: bool = False  # a definite generic reference ("the council") that may point back
    trained: str | None = None  # the type the trained span model gave it (candidates "trained"), else None


def head_class(word: str) -> str | None:
    """The stakeholder type a generic head noun suggests, or None."""
    w = word.lower()
    if w in FOREIGN_HEADS:
        return FOREIGN_HEADS[w]
    for cls, heads in (
        ("research", RESEARCH_HEADS),
        ("government", GOV_HEADS),
        ("private", PRIVATE_HEADS),
        ("civil_society", CIVIL_HEADS),
    ):
        if w in heads:
            return cls
    return None


def is_named(span: Span) -> bool:
    """Whether a span holds a proper name ("Lagos commuters"), not only generic words ("the City")."""
    for tok in span:
        if tok.tag_ in ("NNP", "NNPS") or (tok.is_upper and len(tok) > 1 and tok.is_alpha):
            low = tok.lower_
            if low in ACTOR_HEADS or low in GOV_NAME_WORDS or low in STRIP_LEADING:
                continue
            return True
    return False


def _trim(doc: Doc, start: int, end: int) -> tuple[int, int]:
    """Drop leading determiners/possessive pronouns/punctuation and trailing punctuation/conjunctions."""
    while start < end and (
        doc[start].lower_ in STRIP_LEADING or doc[start].is_punct or doc[start].tag_ in ("CC", "PRP$", "POS")
    ):
        start += 1
    while end > start and (doc[end - 1].is_punct or doc[end - 1].tag_ in ("CC", "DT", "IN", "POS", "HYPH")):
        if doc[end - 1].text == ")" and "(" in doc[start : end - 1].text:
            break  # a closed bracket inside a name: "Bisasar Waste-to-Energy (RF) (Pty) Ltd"
        end -= 1
    return start, end


def _in_subtree(tok: Token, head: Token) -> bool:
    while tok.i != head.i:
        if tok.head.i == tok.i:
            return False
        tok = tok.head
    return True


def _left_edge(doc: Doc, head: Token, floor: int) -> int:
    """Where the noun phrase headed by ``head`` starts: adjacent modifiers inside its subtree."""
    i = head.i - 1
    start = head.i
    while i >= floor:
        tok = doc[i]
        if tok.tag_ == "CC" or tok.text in ("&",):
            # "recycling and packaging firms": a coordination between modifiers stays inside
            if i - 1 >= floor and doc[i - 1].tag_ in _LEFT_TAGS and _in_subtree(doc[i - 1], head):
                i -= 1
                continue
            break
        if tok.tag_ not in _LEFT_TAGS or not _in_subtree(tok, head) or "\n" in tok.whitespace_:
            break
        if tok.text in ("-", "–", "—") and (tok.whitespace_ or doc[i - 1].whitespace_):
            break  # "NEWS RELEASE - City of Winnipeg": a spaced dash separates, a hyphen joins
        start = i
        i -= 1
    # "residents' associations": the parser may hang the owner elsewhere; a plain noun owner belongs to the name
    if start >= floor + 2 and doc[start - 1].tag_ == "POS" and doc[start - 2].tag_ in _NOUN_TAGS:
        owner_start = start - 2
        while owner_start - 1 >= floor and doc[owner_start - 1].tag_ in ("NN", "NNS", "JJ", "NNP", "NNPS"):
            owner_start -= 1
        start = owner_start
    # "the Council's Trade and Tourism Department": an anaphoric owner is not part of the name
    for j in range(head.i - 1, start - 1, -1):
        if doc[j].tag_ == "POS" or doc[j].tag_ == "PRP$":
            owner = doc[start:j] if doc[j].tag_ == "POS" else doc[j : j + 1]
            public = any(t.lower_ in ("city", "government", "council", "county", "municipality", "ministry")
                         for t in owner)  # fmt: skip
            if doc[j].tag_ == "PRP$" or _is_anaphoric_owner(owner) or public:
                start = j + 1
            break
    return start


def _is_anaphoric_owner(owner: Span) -> bool:
    words = [t for t in owner if t.lower_ not in STRIP_LEADING]
    return len(words) == 1 and words[0].lower_ in ANAPHOR_HEADS and owner[0].lower_ in _DEFINITE


def _right_edge(doc: Doc, head: Token, ceiling: int, allow_for: bool) -> int:
    """Where the phrase ends: the head, extended by "of/from X" ("Residents of Kinondoni")."""
    end = head.i + 1
    for _ in range(2):  # at most two nested "of" phrases
        if end >= ceiling:
            break
        prep = doc[end]
        nxt = doc[end + 1] if end + 1 < ceiling else None
        if nxt is None:
            break
        ok = (
            prep.lower_ in _PREP_EXTEND
            or (prep.lower_ in _ROMANCE_OF and head.lower_ in FOREIGN_HEADS)
            or (prep.lower_ == "for" and allow_for and (nxt.tag_ in ("NNP", "NNPS") or nxt.is_title))
        )
        if not ok or not _in_subtree(prep, head):
            break
        j = end + 1
        last_noun = None
        while j < ceiling:
            tok = doc[j]
            if not _in_subtree(tok, head) or tok.ent_type_ in ("DATE", "TIME", "MONEY", "PERCENT"):
                break
            if "\n" in doc[j - 1].whitespace_ or tok.is_space:
                break
            if tok.ent_type_ == "ORG" and tok.ent_iob_ == "B" and head.lower_ not in _OWNED_UNITS:
                break  # "Board of Directors of the African Development Bank": the bank is the party
            if tok.tag_ in _RIGHT_TAGS or tok.text in ("&", "-", "'", "’"):
                if tok.tag_ in _NOUN_TAGS:
                    last_noun = j
                j += 1
                continue
            if (
                tok.tag_ == "CC"
                and j + 1 < ceiling
                and (doc[j + 1].ent_iob_ == "B" or doc[j + 1].tag_ in ("DT", "CD", "PRP$") or not doc[j + 1].is_title)
            ):
                break  # "City of Lugano and Ceresio Digitale SA", "... and cyclists' groups": another party
            if tok.tag_ == "CC" and j + 1 < ceiling and doc[j + 1].tag_ in ("NNP", "NNPS", "JJ", "NN", "NNS"):
                # "Department of Roads and Transport" (a comma list stops: it names the next party)
                if (
                    _next_head(doc, j + 1, ceiling) is not None
                    and doc[_next_head(doc, j + 1, ceiling)].lower_ in (ACTOR_HEADS - _OWNED_UNITS)
                    and head.lower_ not in _OWNED_UNITS
                ):
                    break
                j += 1
                continue
            break
        if last_noun is None:
            break
        end = last_noun + 1
    return end


def _segments(ent: Span) -> list[tuple[int, int]]:
    """An entity cut at line breaks and slashes: NER runs headings together ("CITY COUNCIL\nHEALTH COMMITTEE")."""
    out, start = [], ent.start
    for tok in ent:
        if tok.is_space or tok.text in ("/", "|", ":", "›", ">", "—", "–") or (tok.text == "-" and tok.whitespace_):
            if tok.i > start:
                out.append((start, tok.i))
            start = tok.i + 1
    if ent.end > start:
        out.append((start, ent.end))
    return out


def _ner_candidates(doc: Doc, labels: set[str], gpe_requires_role: bool) -> list[Candidate]:
    out = []
    for ent in doc.ents:
        if ent.label_ not in labels:
            continue
        for seg_start, seg_end in _segments(ent):
            for part_start, part_end in _split_coordination(doc, seg_start, seg_end):
                cand = _ner_candidate(doc, ent.label_, part_start, part_end, gpe_requires_role)
                if cand is not None:
                    out.append(cand)
    return out


# Last words that close an organization's name, so that "X Corporation and Prairie Thermal Partners" is two.
_CLOSING_HEADS = {
    "corporation", "government", "council", "municipality", "university", "authority", "agency", "company",
    "bank", "trust", "foundation", "association", "ministry", "institute", "commission", "county", "group",
    "administration", "utility", "board", "fund", "cooperative", "federation", "partners",
}  # fmt: skip
_LEGAL_LAST = {f.lower() for f in COMPANY_FORMS | COMPANY_FORMS_UPPER} | {"ltd", "inc", "plc", "llc", "ag", "sa", "as"}


def _split_coordination(doc: Doc, start: int, end: int) -> list[tuple[int, int]]:
    """NER runs two names joined by "and" together; cut where the left one is closed by an organization
    head or a legal form and a capitalised name follows. A comma list ("Ministry of Land, Transport and
    Tourism") or a bare place before "and" ("Cancún and Puerto Morelos Hotel Association") stays one."""
    for i in range(start + 1, end - 1):
        tok = doc[i]
        if tok.lower_ != "and":
            continue
        left, right = doc[start:i], doc[i + 1 : end]
        if any(t.text == "," for t in left) or not (right[0].is_title or right[0].is_upper):
            continue
        if left[-1].lower_.rstrip(".") in _CLOSING_HEADS | _LEGAL_LAST:
            return [(start, i)] + _split_coordination(doc, i + 1, end)
    return [(start, end)]


# Owners that refer back ("the Council's Public Safety Committee"): the unit is the party named.
_ANAPHORIC_OWNERS = {"council", "city", "corporation", "municipality", "ministry", "company", "county", "government",
                     "department", "authority", "university", "commune", "district", "state", "town"}  # fmt: skip
_UNIT_HEADS = {"department", "office", "division", "committee", "unit", "directorate", "bureau", "service", "services",
               "agency", "secretariat", "commission", "board", "team", "centre", "center"}  # fmt: skip


_PORTFOLIO_HEADS = {"ministry", "department", "office", "secretariat", "directorate", "commission", "committee",
                    "bureau", "agency", "council", "board", "division", "ministerio", "secretaría"}  # fmt: skip


def _extend_portfolio(doc: Doc, start: int, end: int) -> int:
    """ "Ministry of Education" + ", Youth and Sport": NER stops at the comma of a list of portfolios."""
    words = [t.lower_ for t in doc[start:end]]
    if "of" not in words or not _PORTFOLIO_HEADS & set(words[: words.index("of")]):
        return end
    j, closed = end, end
    while j < len(doc) and doc[j].text in (",", "and", "&") and j + 1 < len(doc):
        k = j + 1
        while k < len(doc) and k - j <= 4 and (doc[k].is_title or doc[k].lower_ in ("and", "of")) and not (
            doc[k].lower_ in ACTOR_HEADS or doc[k].ent_type_ in ("GPE", "PERSON") or doc[k].tag_ == "POS"
        ):  # fmt: skip
            if doc[k].lower_ == "and" and not (k + 1 < len(doc) and doc[k + 1].is_title):
                break
            k += 1
        if k == j + 1 or doc[k - 1].lower_ in ("and", "of"):
            break
        if doc[j].text != ",":
            closed = k  # a list of portfolios ends with "and X"
            break
        if any(t.lower_ == "and" for t in doc[j + 1 : k]):
            closed = k
            break
        j = k
    return closed


def _fix_ner_start(doc: Doc, start: int, end: int) -> int:
    """Drop what NER puts before a name: a descriptor in lower case ("software firm Mangue Labs", "national
    Agency for ...") and an owner that only refers back ("Council's Public Safety Committee")."""
    while (
        end - start > 1
        and doc[start].is_lower
        and doc[start].is_alpha
        and doc[start].tag_ in ("JJ", "NN", "NNS", "VBN", "NNP")
        and (doc[start + 1].is_title or doc[start + 1].is_upper or doc[start + 1].is_lower and start + 2 < end
             and doc[start + 1].tag_ in ("JJ", "NN", "NNS") and (doc[start + 2].is_title or doc[start + 2].is_upper))
    ):  # fmt: skip
        start += 1
    if end - start > 3 and doc[start + 1].tag_ == "POS" and doc[start].lower_ in _ANAPHORIC_OWNERS:
        if doc[end - 1].lower_ in _UNIT_HEADS or any(t.lower_ in _UNIT_HEADS for t in doc[start + 2 : end]):
            start += 2
    return start


def _ner_candidate(doc: Doc, label: str, start: int, end: int, gpe_requires_role: bool) -> Candidate | None:
    # "the Kenya Association of Hotelkeepers and" + "Caterers": finish a cut coordination
    if doc[end - 1].tag_ == "CC" and end < len(doc) and doc[end].tag_ in ("NNP", "NNPS"):
        while end < len(doc) and doc[end].tag_ in ("NNP", "NNPS"):
            end += 1
    # "City of" + "Kigali", "Government of" + "the Netherlands"
    k = start
    while k > 0 and doc[k - 1].lower_ in ("the",):
        k -= 1
    if k >= 2 and doc[k - 1].lower_ in ("of", "de", "du", "d'") and doc[k - 2].lower_ in _GOV_OF:
        start = k - 2
        while start > 0 and (doc[start - 1].lower_ in GOV_NAME_WORDS and doc[start - 1].is_title):
            start -= 1
    # "the Incheon Metropolitan City" + "government"
    while end < len(doc) and doc[end].lower_ in GOV_SUFFIXES and doc[end].tag_ in ("NN", "NNP"):
        end += 1
    end = _extend_portfolio(doc, start, end)
    start, end = _trim(doc, start, end)
    if start >= end:
        return None
    start = _fix_ner_start(doc, start, end)
    span = doc[start:end]
    last = span[-1].lower_
    if any(t.like_num or t.ent_type_ in ("TIME", "MONEY", "DATE", "PERCENT") for t in span):
        return None  # "11:00 East Africa Time", "UGX 250,000"
    if not is_named(span):
        # "Council", "the Committee": NER tags generic words in capitals; they refer back like "the council"
        head = span.root
        if head.lower_ in ANAPHOR_HEADS and len([t for t in span if not t.is_punct]) == 1:
            return Candidate(start, end, "pattern", "ACTOR", head.i, False, anaphor=True)
        return None
    if span[0].lower_ in TITLES or last in TITLES:
        return None  # "Councillor Ramkissoon", "County Executive Committee Member": people
    if label == "ORG":
        if last in NON_ACTOR_LAST:
            return None
        words = [t for t in span if t.is_alpha]
        if len(words) > 1 and all(t.is_upper for t in words) and not any(t.lower_ in _HEADING_HEADS for t in words):
            return None  # "KEY FACTS", "PRESS STATEMENT": a heading, not a name
        if last in _PLACE_LAST and not any(t.lower_ in GOV_NAME_WORDS - _PLACE_WORDS for t in span):
            if not _acts(span):
                return None  # "Mexico City", "Erongo Region": a place unless it acts
        if last in _BODY_LAST and any(t.lower_ in _CONSULTATIVE for t in span):
            return None  # "Kolkata Clean Air Advisory Forum": the consultative body is the project, not a party
        if len(span) == 1 and span[0].tag_ in ("NN", "NNS"):
            return None  # "cooperatives" tagged ORG: a generic noun, left to the actor patterns
    else:  # GPE, NORP: a place or a nationality, a party only when it acts or names a government
        govish = any(t.lower_ in GOV_NAME_WORDS - _PLACE_WORDS for t in span)
        if label == "NORP" and not govish:
            return None
        if not govish and (gpe_requires_role and not _acts(span)):
            return None
    return Candidate(start, end, "ner", label, span.root.i, True)


def _acts(span: Span) -> bool:
    """A bare place name as a party: the subject of a verb or the agent of a passive ("by Kigali")."""
    root = span.root
    if (
        root.dep_ == "nsubj"
        and (root.head.tag_.startswith("VB") or root.head.tag_ == "MD")
        and root.head.lower_ not in ("is", "was", "be")
    ):
        return True
    return root.dep_ == "pobj" and root.head.lower_ == "by" and root.head.dep_ == "agent"


def _generic_candidates(doc: Doc, matcher: Matcher) -> list[Candidate]:
    out = []
    taken: set[int] = set()
    for _, s, _e in matcher(doc):
        head = doc[s]
        if head.i in taken:
            continue
        if head.dep_ == "compound" and head.head.i > head.i and head.head.tag_ in _NOUN_TAGS:
            continue  # "city" in "city council": not the head
        if doc[s + 1 : s + 2].text in ("'", "’", "'s") and s + 2 < len(doc) and doc[s + 2].tag_ in _NOUN_TAGS:
            continue  # "residents' association": the owner, not the head
        sent = head.sent
        start = _left_edge(doc, head, sent.start)
        end = _right_edge(doc, head, sent.end, allow_for=head.lower_ in _ORG_HEADS_FOR)
        if head.lower_ in _PARTNERSHIP_HEADS and any(t.tag_ in ("NNP", "NNPS") for t in doc[head.i + 1 : end]):
            end = head.i + 1  # "a joint venture of Velmora Municipality and ...": the partners are parties
        # "logistics firms and insurers": generic groups joined by "and" are one party in our guidelines
        first_word = doc[start].lower_
        counted = first_word in _INDEFINITE or doc[start].like_num or first_word in _NUMBER_WORDS
        if (
            end + 1 < sent.end
            and doc[end].lower_ in ("and", "or")
            and not counted
            and (doc[end + 1].tag_ not in ("DT", "CD", "PRP$") and doc[end + 1].lower_ not in _NUMBER_WORDS)
        ):
            nxt_head = _next_head(doc, end + 1, sent.end)
            if nxt_head is not None and doc[nxt_head].lower_ in ACTOR_HEADS:
                nxt_span = doc[end + 1 : nxt_head + 1]
                if not is_named(nxt_span) and not is_named(doc[start:end]):
                    taken.add(nxt_head)
                    end = _right_edge(doc, doc[nxt_head], sent.end, allow_for=False)
        det = doc[start - 1].lower_ if start > 0 else ""
        raw_first = doc[start].lower_
        start, end = _trim(doc, start, end)
        if start < end and head.is_title and not doc[start].is_title and is_named(doc[start:end]):
            start = _fix_ner_start(doc, start, end)  # "software firm Mangue Labs": the name, not its description
        if start >= end or not (start <= head.i < end):
            continue
        span = doc[start:end]
        if head.lower_ in _PLACE_HEADS and end == head.i + 1 and end - start <= 2:
            continue  # "Civic Centre", "Council Chamber": a place, unless "Centre for ..."
        content = [t for t in span if t.tag_ not in ("DT", "PDT", "CD", "PRP$") and not t.is_punct]
        # "the Ministry of Transport" is a name even though every word is generic
        named = is_named(span) or (head.is_title and any(t.is_title and t.i > head.i + 1 for t in span))
        bare = len(content) == 1 and content[0].i == head.i
        first = doc[start]
        definite = det in _DEFINITE or raw_first in _DEFINITE or first.lower_ in _DEFINITE
        anaphor = False
        if bare:
            low = head.lower_
            indefinite = det in _INDEFINITE or first.lower_ in _INDEFINITE
            if low in ANAPHOR_HEADS and (definite or (head.is_title and not head.is_sent_start)):
                anaphor = True
            elif low in ANAPHOR_HEADS and head.is_title and not indefinite:
                anaphor = True
            elif low in NOT_ACTORS or low in ANAPHOR_HEADS:
                continue
            elif indefinite:
                continue
        elif (
            definite
            and not named
            and head.lower_ in ANAPHOR_HEADS
            and end == head.i + 1
            and head_class(head.lower_) != "civil_society"
            and not any(t.tag_ == "POS" for t in span)
        ):
            anaphor = True  # "the telecom company", "the municipal council"
        out.append(Candidate(start, end, "pattern", "ACTOR", head.i, named, anaphor))
    return out


def _next_head(doc: Doc, i: int, ceiling: int) -> int | None:
    """The last noun of the noun run starting at ``i`` (the head of the next conjunct)."""
    last = None
    while i < ceiling and (doc[i].tag_ in _LEFT_TAGS or doc[i].text in ("-", "'")):
        if doc[i].tag_ in _NOUN_TAGS:
            last = i
        i += 1
    return last


def _international_candidates(doc: Doc, matcher: PhraseMatcher) -> list[Candidate]:
    out = []
    for _, s, e in matcher(doc):
        if doc[s:e].text == "WHO" and doc[s - 1 : s].text not in ("(", "the"):
            continue  # the pronoun "WHO" in a capitalised heading
        out.append(Candidate(s, e, "international", "INTERNATIONAL", doc[s:e].root.i, True))
    return out


_HEADING_HEADS = GOV_HEADS | {
    "ltd", "limited", "plc", "company", "corporation", "holdings", "university", "institute", "bank",
    "authority", "sa", "inc", "gmbh", "llc", "group", "foundation", "association", "cooperative",
}  # fmt: skip


def _company_candidates(doc: Doc, matcher: Matcher) -> list[Candidate]:
    """Capitalised words ending in a legal form ("Elbsieb GmbH", "Nordvarme A/S"): companies NER misses."""
    out = []
    for match_id, s, e in filter_spans_matches(matcher(doc)):
        foreign = doc.vocab.strings[match_id] == "FOREIGN"
        while s < e and (doc[s].lower_ in STRIP_LEADING or doc[s].is_sent_start and doc[s].lower_ in _FUNCTION):
            s += 1
        while e > s and (doc[e - 1].is_punct or doc[e - 1].lower_ in _ROMANCE_OF):
            e -= 1
        if e - s >= 2:
            out.append(Candidate(s, e, "ner", "ORG", s if foreign else e - 1, True))
    return out


def filter_spans_matches(matches: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Longest non-overlapping matches of a greedy Matcher, in text order."""
    chosen: list[tuple[int, int, int]] = []
    for m in sorted(matches, key=lambda m: (m[1] - m[2], m[1])):
        if all(m[2] <= c[1] or m[1] >= c[2] for c in chosen):
            chosen.append(m)
    return sorted(chosen, key=lambda m: m[1])


_FUNCTION = {"the", "a", "an", "in", "on", "at", "for", "by", "with", "from", "and", "but", "as", "under"}


def _heading_candidates(doc: Doc) -> list[Candidate]:
    """A line in capitals naming an organization ("LUSAKA CITY COUNCIL"): NER and the parser miss these."""
    out = []
    line_start = 0
    for i in range(len(doc) + 1):
        if i < len(doc) and not (doc[i].is_space and "\n" in doc[i].text):
            continue
        line = doc[line_start:i]
        line_start = i + 1
        pieces, start = [], line.start
        for tok in line:
            if tok.text in ("—", "–", "-", ":", ",", "|", "/", "(", ")") and tok.whitespace_ or tok.text in ("—", "|"):
                pieces.append((start, tok.i))
                start = tok.i + 1
        pieces.append((start, line.end))
        for ps, pe in pieces:
            words = [t for t in doc[ps:pe] if t.is_alpha]
            if not (1 <= len(words) <= 10) or not all(t.is_upper for t in words):
                continue
            if len(words) == 1 or not (
                words[-1].lower_ in _HEADING_HEADS
                or (words[0].lower_ in _HEADING_HEADS | _GOV_OF and any(t.lower_ in ("of", "de", "du") for t in words))
            ):
                continue
            ps, pe = _trim(doc, ps, pe)
            if ps < pe:
                out.append(Candidate(ps, pe, "ner", "ORG", doc[ps:pe].root.i, True))
    return out


def _trained_candidates(doc: Doc) -> list[Candidate]:
    """The trained span model's parties (``PARTY_<TYPE>`` entities), trimmed like the rules' mentions."""
    out = []
    for ent in doc.ents:
        if not ent.label_.startswith(LABEL_PREFIX):
            continue
        start, end = _trim(doc, ent.start, ent.end)
        if start >= end:
            continue
        span = doc[start:end]
        named = is_named(span)
        head = span.root
        content = [t for t in span if t.tag_ not in ("DT", "PDT", "CD", "PRP$") and not t.is_punct]
        before = doc[ent.start].lower_ if ent.start < start else (doc[start - 1].lower_ if start else "")
        # "the council": a bare definite reference still points back to the party named before
        anaphor = not named and len(content) == 1 and head.lower_ in ANAPHOR_HEADS and before in _DEFINITE
        out.append(Candidate(start, end, "ner" if named else "pattern", "ORG" if named else "ACTOR", head.i, named,
                             anaphor, trained=label_type(ent.label_)))  # fmt: skip
    return out


def find_candidates(
    doc: Doc,
    head_matcher: Matcher,
    intl_matcher: PhraseMatcher,
    company_matcher: Matcher,
    ner_labels: set[str],
    generic_actors: bool = True,
    gpe_requires_role: bool = True,
    trained: str | None = None,
) -> list[Candidate]:
    """Every mention of a possible stakeholder, non-overlapping, in text order.

    ``trained``: None for the rules alone; ``"trained"`` puts the trained span model's parties first and
    adds the rules' mentions that do not overlap them; ``"trained_only"`` adds only the rules' references
    ("the council"), which carry role evidence for the party they point back to.
    """
    rules = _rule_candidates(doc, head_matcher, intl_matcher, company_matcher, ner_labels, generic_actors,
                             gpe_requires_role)  # fmt: skip
    if trained is None:
        return rules
    spans = _trained_candidates(doc)
    taken = {i for c in spans for i in range(c.start, c.end)}
    for c in spans:
        if c.source != "pattern":
            continue
        for o in rules:  # an international name inside a trained span keeps the international source
            if o.source == "international" and c.start <= o.start and o.end <= c.end:
                c.source, c.label = "international", "INTERNATIONAL"
    extra = [c for c in rules if not taken.intersection(range(c.start, c.end))]
    if trained == "trained_only":
        extra = [c for c in extra if c.anaphor]
    return sorted(spans + extra, key=lambda c: c.start)


def _rule_candidates(
    doc: Doc,
    head_matcher: Matcher,
    intl_matcher: PhraseMatcher,
    company_matcher: Matcher,
    ner_labels: set[str],
    generic_actors: bool = True,
    gpe_requires_role: bool = True,
) -> list[Candidate]:
    cands = _ner_candidates(doc, ner_labels, gpe_requires_role) + _international_candidates(doc, intl_matcher)
    cands += _heading_candidates(doc) + _company_candidates(doc, company_matcher)
    if generic_actors:
        cands += _generic_candidates(doc, head_matcher)
    by_span: dict[tuple[int, int], Candidate] = {}
    for c in cands:
        key = (c.start, c.end)
        prev = by_span.get(key)
        if prev is None or (c.source == "international") or (prev.source == "pattern" and c.source == "ner"):
            by_span[key] = c
    spans = [doc[s:e] for s, e in by_span]
    kept = filter_spans(spans)
    result = [by_span[(sp.start, sp.end)] for sp in kept]
    for c in result:
        if c.source != "pattern":
            continue
        # a generic phrase that swallowed an international name keeps the international source
        for o in by_span.values():
            if o.source == "international" and c.start <= o.start and o.end <= c.end:
                c.source, c.label = "international", "INTERNATIONAL"
    return sorted(result, key=lambda c: c.start)
