"""Which merged parties are reported: the precision side of the extractor.

Project documents mention far more organizations and groups than take part
in the project (the bank a journalist quotes, "cities across Europe", "the
municipal staff"). Measured on the train split, named multi-word
organizations are usually parties, counted or indefinite actors ("two banks",
"a local startup") often are, while bare plurals and definite phrases rarely
are unless a dependency pattern shows them acting.
"""

from __future__ import annotations

from spacy.tokens import Doc

from classifier.extraction.aliases import Party
from classifier.extraction.patterns import CIVIL_WORDS
from classifier.extraction.roles import RoleVotes

__all__ = ["BODY_HEADS", "DEP_CUES", "GENERIC_NEVER", "GENERIC_USUALLY", "PLACE_PREPOSITIONS", "keep_party"]

# Cue names (see roles.build_role_matcher) that show a mention acting in the project.
DEP_CUES = {
    "subject", "agent", "subject-chain", "relcl", "from", "owners", "awarded-to", "members", "object", "founded",
    "founder", "vehicle",
}  # fmt: skip
# Generic heads that are almost never annotated parties on the train split (precision under 0.1).
GENERIC_NEVER = {
    "services", "service", "staff", "platform", "platforms", "network", "networks", "units", "unit", "body",
    "bodies", "panels", "lab", "labs", "secretariat", "district", "districts", "city", "cities", "members",
    "member", "school", "schools", "neighbourhood", "neighbourhoods", "neighborhood", "neighborhoods", "town",
    "towns", "side", "sides", "directors", "partnership", "venture", "ventures", "owner", "children",
    "household", "centres", "centers", "business", "departments", "holdings", "chain", "region", "regions",
    "state", "states", "province", "office", "offices", "board", "boards", "trust", "engineers", "teachers",
    "researchers", "customers", "users", "riders", "drivers", "people", "visitors", "representatives",
    "representative", "officials", "engineer", "employees", "learners", "municipalities", "passengers",
}  # fmt: skip
# Generic heads that are usually annotated even without a number ("residents", "local contractors").
GENERIC_USUALLY = {
    "residents", "households", "patients", "families", "workers", "associations", "association",
    "contractors", "owners", "cooperatives", "union", "unions", "police", "committees", "citizens",
    "insurers", "businesses", "traders", "fishermen", "operators", "pupils",
}  # fmt: skip
# Bodies set up for the project ("a joint steering committee") are not parties; community ones are.
BODY_HEADS = {"committee", "council", "forum", "panel", "board", "councils", "forums", "panels", "boards"}
UNITS = {"mw", "mwh", "kw", "kwh", "gw", "gwh", "mwp", "kwp", "km", "ha", "co2", "pm2.5", "gb", "tb"}
VEHICLE_HEADS = {"company", "consortium", "venture", "corporation", "entity", "vehicle", "spc", "firm"}
VEHICLE_WORDS = {
    "joint", "jointly", "new", "single", "mixed", "limited", "special", "purpose", "project", "shared", "separate",
    "dedicated", "standing", "durable", "permanent", "operating", "holding", "economy", "owned", "international",
}  # fmt: skip
PLACE_PREPOSITIONS = {"in", "at", "on", "as", "across", "near", "within", "around", "into", "throughout", "like"}
_COUNT_WORDS = {
    "a", "an", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "several", "dozens", "hundreds", "thousands", "many", "some", "various", "numerous",
}  # fmt: skip


def _has_dep_cue(tally: RoleVotes) -> bool:
    return any(c.split(":")[0] in DEP_CUES for cues in tally.cues.values() for c in cues)


def _only_placed(doc: Doc, party: Party) -> bool:
    """Every mention is the object of a place-like preposition ("in Kigali", "at the University"):
    on the train split such parties are annotated less than one time in five."""
    for m in party.members:
        root = doc[m.start : m.end].root
        if not (root.dep_ == "pobj" and root.head.lower_ in PLACE_PREPOSITIONS):
            return False
    return True


def keep_party(doc: Doc, party: Party, tally: RoleVotes) -> bool:
    """Whether a party is reported, from how it is named and whether it acts."""
    canon = party.canonical
    span = doc[canon.start : canon.end]
    if _only_placed(doc, party) and not _has_dep_cue(tally):
        return False
    if len(span) == 1 and span[0].lower_ in UNITS:
        return False  # "MW" tagged ORG
    if canon.source == "international" and len(span) > 1:
        return True
    if canon.named or canon.source == "international":
        if len(span) > 1:
            return True
        return _has_dep_cue(tally) and (len(party.members) > 1 or span[0].is_upper)
    head = doc[canon.head].lower_
    if head in GENERIC_NEVER:
        return False
    if head in VEHICLE_HEADS and any(t.lower_ in VEHICLE_WORDS for t in span):
        return False  # "a joint company", "a new company": the project vehicle described, named elsewhere
    if head in BODY_HEADS and not any(t.lower_ in CIVIL_WORDS for t in span):
        return False
    before = doc[canon.start - 1].lower_ if canon.start > 0 else ""
    first = span[0]
    counted = before in _COUNT_WORDS or first.lower_ in _COUNT_WORDS or first.like_num
    return counted or head in GENERIC_USUALLY
