"""One submission end to end: store it, classify it, store the prediction; evidence on demand.

The document is committed before the model runs, so a submission is never
lost to a model failure (it stays ``received``); unreadable input never gets
this far (the route rejects it before anything is stored).
"""

from __future__ import annotations

import logging
from typing import Any

from api.deps import AppState
from api.serving import NoModelError
from api.store import queries
from api.store.tables import Document, User
from classifier.documents import SourceDocument

__all__ = ["ensure_evidence", "submit"]

log = logging.getLogger(__name__)


def submit(
    state: AppState,
    user: User,
    source: SourceDocument,
    *,
    city: str | None,
    country: str | None,
    submitter: str | None,
) -> int:
    """Store ``source`` and classify it; returns the new document id."""
    with state.db.session() as session:
        document = queries.add_document(
            session,
            name=source.id,
            fmt=source.format,
            text=source.text,
            city=city,
            country=country,
            submitter=submitter,
            user=user,
        )
        document_id = document.id
    try:
        prediction = state.batcher.predict(SourceDocument(str(document_id), source.text, source.source, source.format))
    except NoModelError:
        log.warning("document %s stored unclassified: no model is serving", document_id)
        return document_id
    payload = prediction.model_dump()
    with state.db.session() as session:
        queries.save_prediction(session, document_id, payload, explained=state.holder.explain)
    state.metrics.observe_prediction(prediction.label, prediction.model_version)
    return document_id


def ensure_evidence(state: AppState, document: Document) -> dict[str, Any] | None:
    """The document's current prediction, with its evidence sentences computed and stored if still missing."""
    with state.db.session() as session:
        prediction = queries.get_prediction(session, document.prediction_id)
        if prediction is None:
            return None
        if prediction.explained:
            return prediction.payload
        prediction_id, version = prediction.id, prediction.model_version
    source = SourceDocument(str(document.id), document.text, document.name, document.format)
    evidence = state.holder.evidence(version, source)
    with state.db.session() as session:
        if evidence is not None:
            queries.set_evidence(session, prediction_id, evidence)
        return queries.get_prediction(session, prediction_id).payload
