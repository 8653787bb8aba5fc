"""The partnership taxonomy: one source of truth that every other module imports.

The five partnership models and the two other aspects (test-bed, international
collaboration) follow the Smart Cities Index Report 2024's collaborative
partnership section (``shared/seed``); stakeholder types and roles are ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "GENRES",
    "INTERNATIONAL_LEVELS",
    "LABELS",
    "MODELS",
    "PartnershipModel",
    "ROLES",
    "SECTORS",
    "STAKEHOLDER_TYPES",
    "Label",
    "International",
    "Role",
    "StakeholderType",
    "label_name",
]

Label = Literal["A", "B", "C", "D", "E"]
StakeholderType = Literal["government", "private", "research", "civil_society", "international"]
Role = Literal["lead", "funder", "investor", "operator", "advisor", "regulator", "participant", "beneficiary"]
International = Literal["none", "some", "strong"]


@dataclass(frozen=True)
class PartnershipModel:
    """One of the five models: its letter, short name and the definition reviewers apply."""

    label: str
    name: str
    definition: str
    decisive_facts: str


MODELS: tuple[PartnershipModel, ...] = (
    PartnershipModel(
        "A",
        "City-Led Model",
        "The city government takes the lead in designing smart city policies and projects, while the "
        "private sector participates to a limited extent. The public sector secures funding and "
        "formulates policies; private companies contribute technical expertise and services.",
        "The city designs, pays and decides; companies are vendors or contractors under procurement.",
    ),
    PartnershipModel(
        "B",
        "City-Private Collaborative Model",
        "The city and the private sector or related organizations form associations or advisory bodies "
        "to exchange opinions and provide consultation. These consultative bodies, primarily led by the "
        "public sector, gather private-sector insight and feed it into smart city initiatives.",
        "A consultative body (council, forum, alliance, advisory board) convened by the public side; "
        "it advises but neither invests nor owns, and the city keeps the decisions.",
    ),
    PartnershipModel(
        "C",
        "Public-Private Investment Model",
        "The city and the private sector jointly invest resources and commitment to develop and operate "
        "smart city projects, with equal decision-making authority; typically short-term projects that "
        "need close collaboration.",
        "Jointly invested money or assets, equal say, a time-limited project, no lasting joint organization.",
    ),
    PartnershipModel(
        "D",
        "Public-Private SPC",
        "Private enterprises, startups and research institutions collaborate with the government to "
        "establish or jointly operate an organization, such as a special purpose company, for long-term "
        "projects; common in large-scale urban development and management.",
        "A lasting organization jointly owned or run by public and private partners, for the long term.",
    ),
    PartnershipModel(
        "E",
        "Private-Led Model",
        "The private sector leads the planning and execution of projects while the city provides support: "
        "private funding, innovation and execution drive the project; the public sector relaxes "
        "regulations, provides infrastructure or offers policy incentives.",
        "A company or consortium initiates, funds and runs it; the city permits, eases rules or supports.",
    ),
)

LABELS: tuple[str, ...] = tuple(m.label for m in MODELS)
STAKEHOLDER_TYPES: tuple[str, ...] = ("government", "private", "research", "civil_society", "international")
ROLES: tuple[str, ...] = (
    "lead",
    "funder",
    "investor",
    "operator",
    "advisor",
    "regulator",
    "participant",
    "beneficiary",
)
INTERNATIONAL_LEVELS: tuple[str, ...] = ("none", "some", "strong")
GENRES: tuple[str, ...] = (
    "press_release",
    "council_minutes",
    "tender_notice",
    "fact_sheet",
    "funding_announcement",
    "case_note",
    "news_item",
    "web_page",
    "bullet_brief",
)
SECTORS: tuple[str, ...] = (
    "mobility",
    "energy",
    "water",
    "waste",
    "safety",
    "health",
    "government_services",
    "housing",
    "data_platform",
    "district",
    "environment",
    "education",
    "tourism",
)

_BY_LABEL = {m.label: m for m in MODELS}


def label_name(label: str) -> str:
    """The model's short name, e.g. ``label_name("D") == "Public-Private SPC"``."""
    return _BY_LABEL[label].name
