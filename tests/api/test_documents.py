"""``/documents``: JSON and file submissions on the real tiny model, reads, filters, and bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from api.store.tables import AuditEvent, Document
from api.store.tables import Prediction as StoredPrediction
from classifier.pipeline import Prediction
from tests.api.files import docx_with_text, docx_zip_bomb, encrypted_pdf, pdf_with_text


def _counts(db) -> tuple[int, int, int]:
    with db.session() as session:
        return tuple(session.scalar(select(func.count(t.id))) for t in (Document, StoredPrediction, AuditEvent))


def test_json_submission_is_stored_then_classified_like_the_cli_prints_it(client, headers, corpus, db):
    response = client.post(
        "/documents",
        json={"text": corpus[0].text, "name": "lamps", "city": "Velmora", "country": "Testland", "submitter": "ops"},
        headers=headers["submitter"],
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/documents/{body['id']}"
    assert body["status"] == "predicted" and body["version"] == 1
    assert (body["city"], body["country"], body["submitter"]) == ("Velmora", "Testland", "ops")
    prediction = body["prediction"]
    assert set(prediction) == set(Prediction.model_fields)  # the fields `partnership classify` prints
    assert prediction["id"] == str(body["id"]) and prediction["model_version"] == "tiny-a"
    assert prediction["label"] == body["label"] == max(prediction["probabilities"], key=prediction["probabilities"].get)
    assert abs(sum(prediction["probabilities"].values()) - 1) < 1e-3
    with db.session() as session:
        stored = session.get(Document, body["id"])
        assert stored.text.startswith(corpus[0].text[:40]) and stored.prediction_id is not None


def test_detail_view_fills_in_evidence_sentences_once(client, headers, corpus, submit):
    created = submit(index=1)
    assert created["prediction"]["evidence"] == []  # computed on first view (settings.explain_on_submit)
    detail = client.get(f"/documents/{created['id']}", headers=headers["reviewer"]).json()
    text = detail["text"]
    assert 1 <= len(detail["prediction"]["evidence"]) <= 3
    for e in detail["prediction"]["evidence"]:
        assert text[e["start"] : e["end"]].strip() == e["sentence"]
    again = client.get(f"/documents/{created['id']}", headers=headers["reviewer"]).json()
    assert again["prediction"]["evidence"] == detail["prediction"]["evidence"]


@pytest.mark.parametrize(
    ("name", "content_type", "make"),
    [
        ("note.txt", "text/plain", lambda t: t.encode()),
        ("note.md", "text/markdown", lambda t: f"# Project\n\n**{t}**".encode()),
        ("page.html", "text/html", lambda t: f"<html><body><script>x()</script><p>{t}</p></body></html>".encode()),
        ("brief.pdf", "application/pdf", pdf_with_text),
        ("brief.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", docx_with_text),
        ("unknown.pdf", "application/octet-stream", pdf_with_text),
    ],
)
def test_file_uploads_of_every_supported_type(client, headers, corpus, name, content_type, make):
    text = corpus[2].text
    response = client.post(
        "/documents",
        files={"file": (name, make(text), content_type)},
        data={"city": "Karsholm", "country": "Denmark", "submitter": "upload test"},
        headers=headers["submitter"],
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == name and body["city"] == "Karsholm" and body["format"] == name.rsplit(".", 1)[1]
    detail = client.get(f"/documents/{body['id']}", headers=headers["submitter"]).json()
    assert text.split()[3] in detail["text"] and "x()" not in detail["text"]


BAD_UPLOADS = [
    (
        "encrypted.pdf",
        "application/pdf",
        lambda: encrypted_pdf("The council pays. A vendor installs."),
        422,
        "encrypted",
    ),
    ("corrupt.pdf", "application/pdf", lambda: b"%PDF-1.4\n1 0 obj << /Type /Catalog", 422, "corrupt PDF"),
    ("fake.pdf", "application/pdf", lambda: b"just text pretending", 422, "not a PDF"),
    ("bomb.docx", "application/octet-stream", docx_zip_bomb, 422, "zip bomb"),
    ("broken.docx", "application/octet-stream", lambda: b"PK\x03\x04broken", 422, "not a DOCX"),
    ("empty.txt", "text/plain", lambda: b"   \n\t ", 422, "empty"),
    ("image.png", "image/png", lambda: b"\x89PNG\r\n", 415, "unsupported file type"),
    ("brief.pdf", "image/png", lambda: pdf_with_text("The city pays."), 415, "does not match"),
    ("binary.txt", "text/plain", lambda: b"\x00\x01\x02binary", 422, "binary"),
]


@pytest.mark.parametrize(("name", "content_type", "make", "code", "message"), BAD_UPLOADS)
def test_bad_uploads_get_a_clear_4xx_and_nothing_is_stored(
    client, headers, db, name, content_type, make, code, message
):
    before = _counts(db)
    response = client.post("/documents", files={"file": (name, make(), content_type)}, headers=headers["submitter"])
    assert response.status_code == code, response.text
    assert message in response.json()["detail"]
    assert _counts(db) == before


def test_oversized_files_and_bodies_are_refused_with_413(app, client, headers, db, corpus):
    app.state.partnership.settings.max_upload_bytes = 2_000
    before = _counts(db)
    big = (corpus[0].text + "\n") * 20
    upload = client.post(
        "/documents", files={"file": ("big.txt", big.encode(), "text/plain")}, headers=headers["admin"]
    )
    assert upload.status_code == 413 and "limit" in upload.json()["detail"]
    body = client.post("/documents", json={"text": big}, headers=headers["admin"])
    assert body.status_code == 413
    assert _counts(db) == before


@pytest.mark.parametrize(
    ("kwargs", "code", "message"),
    [
        ({"json": {"text": "   "}}, 422, "empty text"),
        ({"json": {"txt": "typo in the field name"}}, 422, "invalid JSON submission"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 422, "invalid JSON"),
        ({"content": b"plain words", "headers": {"content-type": "text/plain"}}, 415, "not accepted"),
        ({"data": {"city": "Oslo"}, "files": {"other": ("a.txt", b"x", "text/plain")}}, 422, "'file' field"),
    ],
)
def test_bad_json_and_content_types(client, headers, db, kwargs, code, message):
    before = _counts(db)
    kwargs = dict(kwargs)  # the parameters are shared by both database backends
    extra_headers = kwargs.pop("headers", {})
    response = client.post("/documents", headers={**headers["submitter"], **extra_headers}, **kwargs)
    assert response.status_code == code, response.text
    assert message in str(response.json()["detail"])
    assert _counts(db) == before


def test_list_filters_by_city_label_status_and_pages(client, headers, submit, corpus):
    made = [submit(index=i, city="Velmora" if i % 2 else "Ostrava") for i in range(5)]
    listing = client.get("/documents", params={"city": "velmora"}, headers=headers["reviewer"]).json()
    assert listing["total"] == 2 and all(d["city"] == "Velmora" for d in listing["items"])
    label = made[0]["label"]
    by_label = client.get("/documents", params={"label": label}, headers=headers["reviewer"]).json()
    assert by_label["total"] == sum(d["label"] == label for d in made)
    page = client.get("/documents", params={"page": 2, "page_size": 2}, headers=headers["reviewer"]).json()
    assert page["page"] == 2 and len(page["items"]) == 2 and page["total"] == 5
    assert [d["id"] for d in page["items"]] == sorted((d["id"] for d in made), reverse=True)[2:4]
    predicted = client.get("/documents", params={"status": "predicted"}, headers=headers["reviewer"]).json()
    assert predicted["total"] == 5
    assert client.get("/documents", params={"status": "lost"}, headers=headers["reviewer"]).status_code == 422
    assert client.get("/documents/999999", headers=headers["reviewer"]).status_code == 404


def test_without_a_serving_model_submissions_are_kept_unclassified(app, client, headers, corpus):
    app.state.partnership.holder._install(None)
    response = client.post("/documents", json={"text": corpus[0].text}, headers=headers["submitter"])
    assert response.status_code == 201
    assert response.json()["status"] == "received" and response.json()["prediction"] is None
    assert client.get("/health").json()["status"] == "degraded"
