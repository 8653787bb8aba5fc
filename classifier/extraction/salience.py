"""The main party of a document: who most likely leads, given what kind of document it is.

Most documents have one lead, and which type it has follows the document's
drift: a city convenes an advisory body, a company runs a project the city
permits, a jointly owned company runs an invested project, a city runs the
rest. Among the parties of that type, the most mentioned (then the earliest,
or a named vehicle "incorporated"/"jointly owned") gets a lead bonus.
"""

from __future__ import annotations

from spacy.tokens import Doc

from classifier.extraction.aliases import Party, normalize_name
from classifier.extraction.roles import RoleVotes

__all__ = ["LEAD_TYPE_BY_CONTEXT", "MAIN_PARTY_BONUS", "main_party"]

MAIN_PARTY_BONUS = 4.5
LEAD_TYPE_BY_CONTEXT = {
    "advisory": "government",
    "private": "private",
    "public": "government",
    "vehicle": "private",
    "none": "private",
}
_VEHICLE_WORDS = {"company", "corporation", "venture", "spc", "vehicle", "holdings", "ltd", "limited", "sa", "plc"}


def main_party(doc: Doc, parties: list[tuple[Party, RoleVotes, str]], context: str) -> Party | None:
    """The party that gets the lead bonus, or None when no party of the expected type is there."""
    want = LEAD_TYPE_BY_CONTEXT.get(context)
    if want is None:
        return None  # a co-investment has partners, not a lead
    candidates = [(p, t) for p, t, stype in parties if stype == want and p.canonical.named]
    if context == "vehicle":
        # only a named vehicle leads an invested project; otherwise the partners are investors
        candidates = [
            (p, t)
            for p, t in candidates
            if set(normalize_name(doc[p.canonical.start : p.canonical.end].text).split()) & _VEHICLE_WORDS
            or t.scores.get("lead", 0) >= 2.5
        ]
    if not candidates:
        return None
    return max(candidates, key=lambda pt: (len(pt[0].members) + pt[1].scores.get("lead", 0), -pt[0].first))[0]
