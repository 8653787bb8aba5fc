"""`partnership classify` on mixed inputs: the good ones are classified, the bad ones reported."""

import csv
import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from api.settings import get_settings
from training.registry import ModelRegistry


def serve_tiny(tmp_path: Path, monkeypatch, tiny_model_dir: Path, *, copy: bool = False) -> Path:
    """The tiny model as the serving version of a temporary registry; ``copy`` keeps the shared fixture clean."""
    models = tmp_path / "models"
    models.mkdir()
    folder = models / "tiny"
    if copy:
        shutil.copytree(tiny_model_dir, folder)
    else:
        folder.symlink_to(tiny_model_dir, target_is_directory=True)
    ModelRegistry(models).promote("tiny")
    monkeypatch.setenv("PARTNERSHIP_MODELS_DIR", str(models))
    get_settings.cache_clear()
    return folder


def test_classify_skips_unreadable_inputs_and_classifies_the_rest(tmp_path, monkeypatch, tiny_model_dir, corpus):
    serve_tiny(tmp_path, monkeypatch, tiny_model_dir)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "one.txt").write_text(corpus[0].text)
    (inbox / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    (inbox / "table.csv").write_text(
        "id,text\n" + "\n".join(f'{r.id},"{r.text.replace(chr(34), "")}"' for r in corpus[1:3])
    )
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["classify", str(inbox), "-o", str(out), "--no-extract", "--no-explain"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(["one", corpus[1].id, corpus[2].id])
    assert all(r["label"] in "ABCDE" and r["model_version"] == "tiny" for r in rows)
    assert "broken.pdf" in result.output and "corrupt PDF" in result.output


def test_classify_writes_the_bulk_csv_layout(tmp_path, monkeypatch, tiny_model_dir, corpus):
    serve_tiny(tmp_path, monkeypatch, tiny_model_dir)
    (tmp_path / "a.txt").write_text(corpus[0].text)
    out = tmp_path / "out.csv"
    args = ["classify", str(tmp_path / "a.txt"), "-o", str(out), "--format", "csv", "--no-extract", "--no-explain"]
    result = CliRunner().invoke(app, args)
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["id"] for r in rows] == ["a"] and rows[0]["label"] in "ABCDE"
    assert abs(sum(float(rows[0][f"p_{k}"]) for k in "ABCDE") - 1) < 1e-4
    assert {"city", "country", "model_version", "stakeholders", "evidence"} <= set(rows[0])


def test_classify_without_a_model_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PARTNERSHIP_MODELS_DIR", str(tmp_path / "none"))
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["classify", "-"], input="some text")
    get_settings.cache_clear()
    assert result.exit_code == 2 and "partnership train" in result.output


def test_classify_on_onnx_runtime_with_overlap_agrees_with_torch(tmp_path, monkeypatch, tiny_model_dir, corpus):
    folder = serve_tiny(tmp_path, monkeypatch, tiny_model_dir, copy=True)  # ONNX is exported beside the weights
    for i in range(3):
        (tmp_path / f"d{i}.txt").write_text(corpus[i].text)
    inputs = [str(tmp_path / f"d{i}.txt") for i in range(3)]
    runs = {}
    for name, extra in {"torch": [], "onnx": ["--backend", "onnx", "--overlap"]}.items():
        out = tmp_path / f"{name}.jsonl"
        result = CliRunner().invoke(app, ["classify", *inputs, "-o", str(out), "--no-explain", *extra])
        assert result.exit_code == 0, result.output
        runs[name] = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    get_settings.cache_clear()
    assert any(folder.glob("*.onnx")), "the ONNX run did not use ONNX Runtime"
    for doc_id, torch_row in runs["torch"].items():
        onnx_row = runs["onnx"][doc_id]
        assert onnx_row["label"] == torch_row["label"]
        assert max(abs(onnx_row["probabilities"][k] - torch_row["probabilities"][k]) for k in "ABCDE") < 1e-3
        assert onnx_row["stakeholders"] == torch_row["stakeholders"]
