"""Shared fixtures: small corpora written in the tests, and the real corpus on disk."""

from __future__ import annotations

import pytest

from training.corpus import CorpusRecord, load_corpus
from training.splits import load_splits

# Hand-written, mutually different project notes used to build small corpora in tests.
TEXTS = {
    "A": "The harbour town of Velmora will replace its sodium street lamps with connected LED fixtures this winter. "
    "The municipal works department drew up the plan and pays for it from the capital budget, while Lumatek GmbH "
    "won the supply tender and installs the controllers under a fixed-price contract lasting two years.",
    "B": "Councillors in Ostrava Nova agreed to convene a mobility round table that meets every quarter. Transport "
    "operators, two carmakers and the regional university sit on it and send written recommendations to the mayor, "
    "who remains free to adopt or ignore them; the table has no budget of its own and owns no equipment at all.",
    "C": "Under a three-year memorandum, the city of Karsholm and the grid company Nordvolt each put 4 million euros "
    "into a battery pilot on the ferry quay. A steering group with three seats for each side approves every "
    "spending decision, and revenue from balancing services is split evenly until the pilot ends in spring.",
    "D": "Pretoria East Development Company was incorporated in March with the provincial government holding 40 per "
    "cent, a pension fund 35 per cent and a construction group the rest. The company owns the former railway land "
    "and will build, lease and manage the district for thirty years, reinvesting its rental income in upkeep.",
    "E": "A logistics startup, Parcelia, is financing and running a network of 80 parcel lockers with rooftop solar "
    "panels across the suburbs of Lindenport. The council's role is limited to granting pavement permits and "
    "waiving rental fees on public land for the first year; the company keeps all revenue and carries the risk.",
}


def make_record(doc_id: str, label: str, text: str | None = None, **extra) -> CorpusRecord:
    fields = {
        "id": doc_id,
        "text": text if text is not None else TEXTS[label],
        "label": label,
        "city": "Velmora",
        "country": "Testland",
        "genre": "news_item",
        "sector": "energy",
        "stakeholders": [],
        "testbed": False,
        "international": "none",
    }
    fields.update(extra)
    return CorpusRecord.model_validate(fields)


@pytest.fixture(scope="session")
def corpus() -> list[CorpusRecord]:
    return load_corpus()


@pytest.fixture(scope="session")
def splits() -> dict[str, str]:
    return load_splits()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, corpus, splits):
    """A real MiniLM fine-tuned for seconds on a small, balanced slice of the train split, saved to disk."""
    from classifier.taxonomy import INTERNATIONAL_LEVELS, LABELS
    from training.finetune import FinetuneConfig, finetune

    def columns(split: str, per_label: int) -> dict[str, list]:
        rows = []
        for label in LABELS:
            rows += [r for r in corpus if splits[r.id] == split and r.label == label][:per_label]
        return {
            "text": [r.text for r in rows],
            "label": [LABELS.index(r.label) for r in rows],
            "testbed": [r.testbed for r in rows],
            "international": [INTERNATIONAL_LEVELS.index(r.international) for r in rows],
        }

    # Measured: about 20 s on 2 cores, 0.8 accuracy on 40 held-out test rows.
    config = FinetuneConfig(epochs=4, max_length=128, freeze_layers=4, batch_size=8, learning_rate=3e-4)
    run = finetune(columns("train", 24), columns("validation", 6), config, version="tiny")
    folder = tmp_path_factory.mktemp("models") / "tiny"
    run.model.save(folder)
    return folder
