"""Bulk jobs: bad inputs are reported and skipped, a SIGKILLed job resumes with every document once."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from api.inputs import iter_documents
from api.jobs.bulk import BulkOptions, BulkState, run_bulk

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def submission(tmp_path_factory, corpus):
    """A city submission: folders per city, a CSV, a ZIP with traps, and broken files."""
    base = tmp_path_factory.mktemp("submission")
    for record in corpus[:24]:
        city = base / ("Arden" if int(record.id[-1]) % 2 else "Brill")
        city.mkdir(exist_ok=True)
        (city / f"{record.id}.txt").write_text(record.text, encoding="utf-8")
    (base / "Brill" / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (base / "Brill" / "empty.txt").write_bytes(b"")
    rows = ["id,text,city,country"] + [
        f'csv-{i},"{r.text.replace(chr(34), "")}",Cosa,Testland' for i, r in enumerate(corpus[30:36])
    ]
    rows.append('csv-0,"a duplicate id with other text in it",Cosa,Testland')
    (base / "more.csv").write_bytes("\n".join(rows).encode("cp1252", errors="replace"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Dunmore/zip-ok.txt", corpus[40].text)
        archive.writestr("../escape.txt", "trying to leave the folder")
        archive.writestr("inner.zip", b"PK")
    (base / "upload.zip").write_bytes(buffer.getvalue())
    return base


def _options(model_dir: Path, **extra) -> BulkOptions:
    return BulkOptions(
        model=str(model_dir), engine="single", batch_size=8, int8=False, extract=False, explain="none", **extra
    )


def test_bad_inputs_are_reported_and_the_rest_classified(tmp_path, submission, tiny_model_dir):
    result = run_bulk([str(submission)], tmp_path / "out", _options(tiny_model_dir))
    predictions = [json.loads(line) for line in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    errors = [json.loads(line) for line in (tmp_path / "out" / "errors.jsonl").read_text().splitlines()]
    assert result.classified == len(predictions) == 24 + 6 + 1
    reasons = " | ".join(e["reason"] for e in errors)
    for expected in ("corrupt PDF", "empty file", "duplicate id", "unsafe path", "nested ZIP"):
        assert expected in reasons
    assert len(errors) == 5
    cities = {p["city"] for p in predictions}
    assert cities == {"Arden", "Brill", "Cosa", "Dunmore"}
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["documents"] == 31 and report["errors"] == 5
    assert sum(c["documents"] for c in report["cities"].values()) == 31
    for summary in report["cities"].values():
        assert abs(sum(m["share"] for m in summary["models"].values()) - 1) < 1e-3
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Arden" in html and "<svg" in html and "http" not in html.split("<body>")[1]
    csv_lines = (tmp_path / "out" / "predictions.csv").read_text().splitlines()
    assert len(csv_lines) == 32 and csv_lines[0].startswith("id,city,country,label")


def test_a_finished_job_run_again_classifies_nothing_twice(tmp_path, submission, tiny_model_dir):
    run_bulk([str(submission)], tmp_path / "out", _options(tiny_model_dir))
    again = run_bulk([str(submission)], tmp_path / "out", _options(tiny_model_dir))
    assert again.classified == 0 and again.skipped_done == 36
    ids = [json.loads(line)["id"] for line in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 31


def test_another_job_in_the_same_folder_is_refused(tmp_path, submission, tiny_model_dir):
    run_bulk([str(submission / "Arden")], tmp_path / "out", _options(tiny_model_dir))
    with pytest.raises(ValueError, match="other inputs"):
        run_bulk([str(submission / "Brill")], tmp_path / "out", _options(tiny_model_dir))


def test_a_torn_last_line_is_cut_and_its_document_redone(tmp_path, submission, tiny_model_dir):
    out = tmp_path / "out"
    run_bulk([str(submission / "Arden")], out, _options(tiny_model_dir))
    lines = (out / "predictions.jsonl").read_text().splitlines(keepends=True)
    (out / "predictions.jsonl").write_text("".join(lines[:-1]) + lines[-1][:40])  # a crash mid-write
    state = BulkState(out, [str(submission / "Arden")], _options(tiny_model_dir))
    assert len(state.predictions) == len(lines) - 1
    result = run_bulk([str(submission / "Arden")], out, _options(tiny_model_dir))
    assert result.classified == 1
    ids = [json.loads(line)["id"] for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert sorted(ids) == sorted({json.loads(line)["id"] for line in lines})


def test_sigkill_at_any_moment_then_resume_gives_every_document_exactly_once(tmp_path, tiny_model_dir, corpus):
    inbox = tmp_path / "inbox.jsonl"
    inbox.write_text("\n".join(json.dumps({"id": r.id, "text": r.text, "city": r.city}) for r in corpus[:120]))
    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny").symlink_to(tiny_model_dir, target_is_directory=True)
    (models / "registry.json").write_text(json.dumps({"serving": "tiny", "history": []}))
    env = dict(os.environ, PARTNERSHIP_MODELS_DIR=str(models))
    command = [sys.executable, "-m", "api.cli", "bulk", str(inbox), "-o", str(tmp_path / "out"), "--engine", "single"]
    command += ["--batch-size", "4", "--no-int8", "--no-extract", "--explain", "none"]
    journal = tmp_path / "out" / "predictions.jsonl"
    kills = 0
    for wait_lines in (10, 50):
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline and process.poll() is None:
            if journal.exists() and journal.read_text().count("\n") >= wait_lines:
                break
            time.sleep(0.05)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
    assert kills >= 1, "the job finished before it could be killed"
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    ids = [json.loads(line)["id"] for line in journal.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 120
    assert set(ids) == {r.id for r in corpus[:120]}


def test_non_utf8_csv_and_100mb_file_are_handled(tmp_path):
    (tmp_path / "latin.csv").write_bytes(
        "id,text\nx1,Caf\xe9 lighting in S\xe3o Paulo is paid by the city council.\n".encode("latin-1")
    )
    big = tmp_path / "big.txt"
    with big.open("wb") as handle:
        handle.truncate(100 * 1024 * 1024)
    items = list(iter_documents([str(tmp_path)]))
    by_id = {i.id: i for i in items}
    assert "São Paulo" in by_id["x1"].text
    assert "above the" in by_id["big"].reason


def test_single_engine_sizes_its_threads_to_the_cores_it_may_use():
    """Pinned to one core (taskset, a cpuset), the single engine must not start a thread per machine core."""
    code = "import os; os.sched_setaffinity(0, [0]); from api.jobs.bulk import usable_cores; print(usable_cores())"
    pinned = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert pinned.stdout.strip() == "1"
    free = subprocess.run(
        [sys.executable, "-c", "from api.jobs.bulk import usable_cores; print(usable_cores())"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert int(free.stdout) == len(os.sched_getaffinity(0))
