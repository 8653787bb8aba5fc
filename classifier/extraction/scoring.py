"""Learned weights on top of the rules: which merged candidates are parties, and which role each plays.

The rules produce the evidence (candidates, dependency-pattern and nearby-word
votes, the document's drift, the party's type); hand-set weights turned that
evidence into decisions at 0.59 precision and 0.64 role accuracy, and a grid
over them found a flat landscape. Two logistic regressions fitted on the train
split's gold (``training.evaluate_extraction --fit``) weigh the same evidence
instead: one scores each party (kept when its probability reaches the
threshold chosen on the validation split), one picks the role. They are plain
JSON (feature name -> one weight per class), scored in pure Python: no pickles,
no scikit-learn at run time, and a few dozen multiplications per party.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from spacy.tokens import Doc

from classifier.extraction.aliases import Party
from classifier.extraction.filters import _COUNT_WORDS, _has_dep_cue, _only_placed
from classifier.extraction.mentions import head_class
from classifier.extraction.roles import RoleVotes

__all__ = [
    "TRAINED_WEIGHTS_FILE",
    "WEIGHTS_FILE",
    "LinearModel",
    "Weights",
    "load_weights",
    "party_features",
    "role_features",
]

WEIGHTS_FILE = Path(__file__).with_name("weights.json")
# Fitted on the trained span model's candidates (``candidates: "trained"``); weights.json on the rules'.
TRAINED_WEIGHTS_FILE = Path(__file__).with_name("weights_trained.json")
_DEFINITE = {"the", "its", "their", "our", "this", "that", "these", "those"}
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class LinearModel:
    """A multinomial logistic regression: ``weights[feature][k]`` for class ``classes[k]``."""

    classes: tuple[str, ...]
    weights: dict[str, tuple[float, ...]]
    bias: tuple[float, ...]

    def probabilities(self, features: dict[str, float]) -> dict[str, float]:
        """Softmax over the classes; features the model does not know weigh nothing."""
        z = list(self.bias)
        for name, value in features.items():
            w = self.weights.get(name)
            if w is not None and value:
                for k, wk in enumerate(w):
                    z[k] += wk * value
        top = max(z)
        e = [math.exp(v - top) for v in z]
        total = sum(e)
        return {c: v / total for c, v in zip(self.classes, e, strict=True)}

    def to_dict(self) -> dict:
        weights = {k: list(v) for k, v in self.weights.items()}
        return {"classes": list(self.classes), "bias": list(self.bias), "weights": weights}

    @classmethod
    def from_dict(cls, data: dict) -> LinearModel:
        classes = tuple(data["classes"])
        weights = {k: tuple(float(x) for x in v) for k, v in data["weights"].items()}
        if any(len(v) != len(classes) for v in weights.values()) or len(data["bias"]) != len(classes):
            raise ValueError("weights: every feature needs one weight per class")
        return cls(classes, weights, tuple(float(b) for b in data["bias"]))


@dataclass(frozen=True)
class Weights:
    """Both models and the keep threshold, with a note of what they were fitted and tuned on."""

    party: LinearModel
    role: LinearModel
    threshold: float
    note: str = ""


def load_weights(path: Path = WEIGHTS_FILE) -> Weights | None:
    """The shipped weights, or None when the file is absent (the component then uses its hand-set rules)."""
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return Weights(
        party=LinearModel.from_dict(data["party"]),
        role=LinearModel.from_dict(data["role"]),
        threshold=float(data["threshold"]),
        note=str(data.get("note", "")),
    )


def _cue_kind(cue: str) -> str:
    kind = cue.split(":")[0].split(";")[0]
    return kind.split(" ")[0] if " " in kind else kind


def party_features(doc: Doc, party: Party, tally: RoleVotes, stype: str, rule_keep: bool) -> dict[str, float]:
    """What a party looks like before it is reported: how it is named, whether it acts, where it is."""
    canon = party.canonical
    span = doc[canon.start : canon.end]
    head = doc[canon.head]
    before = doc[canon.start - 1].lower_ if canon.start > 0 else ""
    first = span[0].lower_
    f: dict[str, float] = {
        "rule_keep": float(rule_keep),
        f"src:{canon.source}": 1.0,
        f"label:{canon.label}": 1.0,
        "named": float(canon.named),
        f"type:{stype}": 1.0,
        f"len:{min(len(span), 5)}": 1.0,
        "mentions": math.log1p(len(party.members)),
        "anaphors": sum(m.anaphor for m in party.members) / len(party.members),
        f"head:{head.lower_}": 1.0,
        f"hc:{head_class(head.lower_) or 'none'}": 1.0,
        f"tag:{head.tag_}": 1.0,
        "counted": float(before in _COUNT_WORDS or first in _COUNT_WORDS or span[0].like_num),
        "definite": float(before in _DEFINITE or first in _DEFINITE),
        "upper": float(span.text.isupper() and len(span.text) > 1),
        "placed": float(_only_placed(doc, party)),
        "dep_cue": float(_has_dep_cue(tally)),
        "headline": float(doc[party.first].sent.start == 0),
        "position": party.first / max(len(doc), 1),
    }
    if canon.trained is not None:  # tagged by the trained span model (absent with the rules' candidates)
        f["trained"] = 1.0
        f[f"trained:{canon.trained}"] = 1.0
        f[f"trained_type_agrees:{canon.trained == stype}"] = 1.0
    trained_members = sum(m.trained is not None for m in party.members)
    if trained_members:
        f["trained_share"] = trained_members / len(party.members)
    for role, cues in tally.cues.items():
        f[f"voted:{role}"] = 1.0
        for cue in cues:
            f[f"cue:{_cue_kind(cue)}"] = 1.0
    return f


def role_features(
    *,
    name: str,
    local: dict[str, float],
    final: dict[str, float],
    cues: dict[str, list[str]],
    stype: str,
    context: str,
    counts: dict[str, int],
    is_main: bool,
    source: str,
    mentions: int,
    order: int,
    types_in_doc: Counter,
) -> dict[str, float]:
    """The rule votes for a party (before and after priors), the document's drift, the party's type,
    place among the parties and the words of its name."""
    f: dict[str, float] = {}
    for role, v in local.items():
        f[f"local:{role}"] = math.log1p(max(v, 0.0))
    total = sum(final.values()) or 1.0
    for role, v in final.items():
        f[f"final:{role}"] = v / total
    for role, role_cues in cues.items():
        for cue in role_cues:
            key = f"cue:{role}:{_cue_kind(cue)}"
            f[key] = f.get(key, 0.0) + 1.0
    f[f"t:{stype}"] = 1.0
    f[f"c:{context}"] = 1.0
    f[f"tc:{stype}:{context}"] = 1.0
    f["main"] = float(is_main)
    f[f"main:{stype}"] = float(is_main)
    f[f"src:{source}"] = 1.0
    f["n"] = math.log1p(mentions)
    all_counts = sum(counts.values()) or 1
    for k, v in counts.items():
        f[f"cc:{k}"] = v / all_counts
        f[f"tcc:{stype}:{k}"] = v / all_counts
    f[f"order:{min(order, 4)}"] = 1.0
    f[f"torder:{stype}:{min(order, 3)}"] = 1.0
    f["ntype"] = math.log1p(types_in_doc[stype])
    words = _WORD.findall(name.lower())
    for w in set(words):
        f[f"w:{w}"] = 1.0
    if words:
        f[f"head:{words[-1]}"] = 1.0
    return f
