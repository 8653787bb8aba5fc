"""Review: the queue by uncertainty, optimistic locking (409), and the audit trail."""

from __future__ import annotations

import threading

from sqlalchemy import select

from api.store.tables import AuditEvent, Review


def test_queue_puts_the_smallest_top_two_margin_first_and_filters(client, headers, submit):
    made = [submit(index=i, city="Velmora" if i < 3 else "Ostrava") for i in range(6)]
    queue = client.get("/review/queue", headers=headers["reviewer"]).json()
    assert queue["total"] == 6
    margins = [item["margin"] for item in queue["items"]]
    assert margins == sorted(margins)
    for item in queue["items"]:
        probabilities = sorted(next(m for m in made if m["id"] == item["id"])["prediction"]["probabilities"].values())
        assert abs(item["margin"] - (probabilities[-1] - probabilities[-2])) < 1e-3
    city = client.get("/review/queue", params={"city": "Ostrava"}, headers=headers["reviewer"]).json()
    assert {i["id"] for i in city["items"]} == {m["id"] for m in made[3:]}
    label = made[0]["label"]
    by_label = client.get("/review/queue", params={"label": label}, headers=headers["reviewer"]).json()
    assert {i["id"] for i in by_label["items"]} == {m["id"] for m in made if m["label"] == label}
    by_model = client.get("/review/queue", params={"model": "tiny-b"}, headers=headers["reviewer"]).json()
    assert by_model["total"] == 0
    reviewed = made[0]
    client.post(
        f"/documents/{reviewed['id']}/review", json={"version": 1, "label": "A"}, headers=headers["reviewer"]
    ).raise_for_status()
    after = client.get("/review/queue", headers=headers["reviewer"]).json()
    assert after["total"] == 5 and reviewed["id"] not in {i["id"] for i in after["items"]}


def test_second_reviewer_with_a_stale_version_gets_409_and_nothing_is_overwritten(client, headers, submit):
    doc = submit()
    other = "B" if doc["label"] != "B" else "C"
    first = client.post(
        f"/documents/{doc['id']}/review",
        json={"version": 1, "label": other, "comment": "advisory body only"},
        headers=headers["reviewer"],
    )
    assert first.status_code == 200 and first.json()["version"] == 2
    second = client.post(
        f"/documents/{doc['id']}/review", json={"version": 1, "label": "E"}, headers=headers["reviewer2"]
    )
    assert second.status_code == 409
    assert second.json()["detail"]["current_version"] == 2 and "someone else" in second.json()["detail"]["message"]
    current = client.get(f"/documents/{doc['id']}", headers=headers["reviewer"]).json()
    assert current["label"] == other and current["review"]["reviewer"] == "rui"
    retry = client.post(
        f"/documents/{doc['id']}/review", json={"version": 2, "label": "E"}, headers=headers["reviewer2"]
    )
    assert retry.status_code == 200 and retry.json()["label"] == "E" and retry.json()["version"] == 3


def test_concurrent_reviews_of_one_version_let_exactly_one_through(client, headers, submit, db):
    doc = submit()
    results: list[int] = []
    barrier = threading.Barrier(4)

    def review(who: str, label: str) -> None:
        barrier.wait()
        response = client.post(
            f"/documents/{doc['id']}/review", json={"version": 1, "label": label}, headers=headers[who]
        )
        results.append(response.status_code)

    threads = [
        threading.Thread(target=review, args=(who, label))
        for who, label in (("reviewer", "A"), ("reviewer2", "B"), ("admin", "C"), ("reviewer", "D"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 409, 409, 409]
    with db.session() as session:
        assert len(session.scalars(select(Review).where(Review.document_id == doc["id"])).all()) == 1


def test_audit_trail_says_who_changed_what_when_against_which_prediction(client, headers, submit, db):
    doc = submit()
    predicted = doc["prediction"]
    other = next(label for label in "ABCDE" if label != predicted["label"])
    stakeholders = [
        {"name": "Velmora municipal works department", "type": "government", "role": "lead"},
        {"name": "Lumatek GmbH", "type": "private", "role": "operator"},
    ]
    client.post(
        f"/documents/{doc['id']}/review",
        json={
            "version": 1,
            "label": other,
            "stakeholders": stakeholders,
            "comment": "the city only advises",
            "testbed": True,
            "international": "some",
        },
        headers=headers["reviewer"],
    ).raise_for_status()
    history = client.get(f"/documents/{doc['id']}/history", headers=headers["submitter"]).json()
    assert [e["action"] for e in history] == ["submitted", "classified", "reviewed"]
    submitted, classified, reviewed = history
    assert submitted["actor"] == "ada" and submitted["changes"]["city"] == "Velmora"
    assert classified["actor"] == "system" and classified["model_version"] == "tiny-a"
    assert classified["changes"]["label"] == predicted["label"]
    assert reviewed["actor"] == "rui" and reviewed["comment"] == "the city only advises"
    assert reviewed["changes"]["label"] == {"from": predicted["label"], "to": other}
    assert reviewed["changes"]["status"] == {"from": "predicted", "to": "reviewed"}
    assert reviewed["changes"]["stakeholders"]["to"] == stakeholders
    assert reviewed["changes"]["testbed"]["to"] is True and reviewed["changes"]["international"]["to"] == "some"
    assert reviewed["changes"]["prediction"] == {"label": predicted["label"], "confidence": predicted["confidence"]}
    assert reviewed["changes"]["agrees_with_model"] is False
    assert reviewed["model_version"] == "tiny-a" and reviewed["prediction_id"] == classified["prediction_id"]
    assert reviewed["at"].endswith("Z") and reviewed["at"] >= classified["at"]
    detail = client.get(f"/documents/{doc['id']}", headers=headers["reviewer"]).json()
    assert detail["stakeholders"] == stakeholders and detail["status"] == "reviewed"
    assert detail["prediction"]["label"] == predicted["label"]  # the model's prediction is kept as it was
    with db.session() as session:
        assert session.scalar(select(AuditEvent.actor_id).where(AuditEvent.action == "reviewed")) is not None


def test_review_validation(client, headers, submit):
    doc = submit()
    url = f"/documents/{doc['id']}/review"
    assert client.post(url, json={"version": 1, "label": "Z"}, headers=headers["reviewer"]).status_code == 422
    assert client.post(url, json={"label": "A"}, headers=headers["reviewer"]).status_code == 422
    bad_stakeholder = {"version": 1, "label": "A", "stakeholders": [{"name": "X", "type": "alien", "role": "lead"}]}
    assert client.post(url, json=bad_stakeholder, headers=headers["reviewer"]).status_code == 422
    missing = client.post("/documents/424242/review", json={"version": 1, "label": "A"}, headers=headers["reviewer"])
    assert missing.status_code == 404
