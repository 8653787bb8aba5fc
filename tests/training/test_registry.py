import json

import pytest

from training.registry import ModelRegistry, RegistryError


def _fake_version(root, name, f1):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "partnership.json").write_text("{}")
    (folder / "metrics.json").write_text(json.dumps({"test": {"macro_f1": f1}}))


def test_promote_and_repeated_rollback_walk_back_through_promotions(tmp_path):
    registry = ModelRegistry(tmp_path)
    for i, name in enumerate(["v1", "v2", "v3"]):
        _fake_version(tmp_path, name, 0.5 + i / 10)
        registry.promote(name)
    assert registry.serving() == "v3"
    assert registry.rollback() == "v2"
    assert registry.rollback() == "v1"
    with pytest.raises(RegistryError):
        registry.rollback()
    assert ModelRegistry(tmp_path).serving() == "v1"
    assert [v.version for v in registry.versions() if v.serving] == ["v1"]


def test_unknown_or_half_written_version_cannot_be_promoted(tmp_path):
    registry = ModelRegistry(tmp_path)
    (tmp_path / "v9").mkdir(parents=True)  # a crash before partnership.json was written
    with pytest.raises(RegistryError):
        registry.promote("v9")
    assert registry.serving() is None and registry.versions() == []


def test_a_version_still_being_saved_is_not_listed(tmp_path):
    _fake_version(tmp_path, "v1", 0.5)
    _fake_version(tmp_path, ".v2.partial", 0.9)  # train_version's staging folder, partnership.json already written
    assert [v.version for v in ModelRegistry(tmp_path).versions()] == ["v1"]
