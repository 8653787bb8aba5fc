"""Stakeholder and role extraction: the spaCy component ``stakeholder_roles`` and a batch API.

Importing this package registers the factory, so any English pipeline with a
parser and NER can ``nlp.add_pipe("stakeholder_roles")``; ``extract(texts)``
runs the default pipeline (loaded once per process) in batches.
"""

from __future__ import annotations

from classifier.extraction.aliases import normalize_name
from classifier.extraction.component import DEFAULT_CONFIG, StakeholderRoles
from classifier.extraction.extractor import DEFAULT_MODEL, extract, extract_one, load_extractor
from classifier.extraction.schema import Mention, Stakeholder

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_MODEL",
    "Mention",
    "Stakeholder",
    "StakeholderRoles",
    "extract",
    "extract_one",
    "load_extractor",
    "normalize_name",
]
