"""What the extractor returns: pydantic models shared by the component, the CLI, the API and the classifier.

One stakeholder per party in a document: its best name and offsets (the first
mention in its fullest form, as the annotation guidelines ask), every other
mention merged into it, and the sentence that supports its role.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from classifier.taxonomy import Role, StakeholderType

__all__ = ["Mention", "Stakeholder"]


class Mention(BaseModel):
    """One place where a stakeholder is named; ``text == doc_text[start:end]``."""

    model_config = ConfigDict(frozen=True)
    text: str
    start: int = Field(ge=0)
    end: int = Field(gt=0)


class Stakeholder(BaseModel):
    """A party behind or served by the project, with its type, main role and the evidence for the role."""

    name: str = Field(description="The fullest mention's text, as written in the document.")
    type: StakeholderType
    role: Role
    start: int = Field(ge=0, description="Character offset of ``name`` in the document.")
    end: int = Field(gt=0)
    evidence: str = Field(description="The sentence that decided the role (or the first mention's sentence).")
    evidence_start: int = Field(ge=0)
    evidence_end: int = Field(ge=0)
    role_confidence: float = Field(ge=0.0, le=1.0, description="Share of the role votes won by ``role``.")
    role_cues: list[str] = Field(default_factory=list, description="The rules that voted for ``role``.")
    source: str = Field(description="'ner' for a named organization, 'pattern' for a generic actor.")
    aliases: list[str] = Field(default_factory=list, description="Other surface forms merged into this party.")
    mentions: list[Mention] = Field(default_factory=list, description="Every mention, in text order.")
