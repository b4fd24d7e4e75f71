"""The registry unpickles nothing it did not sign."""

import json

import joblib
import pytest

from models.registry import ModelRegistry, RegistryError, TamperedModelError, load_or_create_key


@pytest.fixture
def registry(tmp_path):
    return ModelRegistry(tmp_path / "models", load_or_create_key(tmp_path / "secret.key"))


def _register(registry, payload=None):
    return registry.register(
        payload or {"weights": [1, 2, 3]}, metrics={"item_accuracy": 0.9}, thresholds={"item": 0.8},
        training_data_sha256="abc", catalogue_sha256="def",
    )


def test_register_load_and_list(registry):
    v1 = _register(registry)
    v2 = _register(registry, {"weights": [4]})
    assert (v1, v2) == ("v0001", "v0002")
    model, manifest = registry.load()
    assert model == {"weights": [4]} and manifest["version"] == "v0002"
    assert [i.active for i in registry.versions()] == [False, True]
    registry.activate(v1)
    assert registry.load()[0] == {"weights": [1, 2, 3]}
    assert not list(registry.root.glob(".*.part"))


def test_tampered_artifact_is_refused(registry):
    v = _register(registry)
    joblib.dump({"weights": "evil"}, registry.root / v / "model.joblib")
    with pytest.raises(TamperedModelError):
        registry.load(v)


def test_edited_manifest_is_refused(registry):
    v = _register(registry)
    path = registry.root / v / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["thresholds"]["item"] = 0.01
    path.write_text(json.dumps(manifest))
    with pytest.raises(TamperedModelError):
        registry.load(v)


def test_model_signed_by_another_installation_is_refused(registry, tmp_path):
    v = _register(registry)
    other = ModelRegistry(registry.root, b"another key")
    with pytest.raises(TamperedModelError):
        other.load(v)


def test_path_traversal_in_version_is_refused(registry):
    _register(registry)
    for bad in ("../v0001", "/etc", ".v0001.part", ""):
        with pytest.raises(RegistryError):
            registry.load(bad)


def test_no_model_is_a_clear_error(registry):
    with pytest.raises(RegistryError, match="dangan train"):
        registry.load()


def test_key_file_is_private(tmp_path, monkeypatch):
    monkeypatch.delenv("DANGAN_SECRET_KEY", raising=False)
    key_path = tmp_path / "k" / "secret.key"
    key = load_or_create_key(key_path)
    assert len(key) == 64 and load_or_create_key(key_path) == key
    assert (key_path.stat().st_mode & 0o777) == 0o600


def test_model_id_differs_for_a_recreated_registry(tmp_path):
    from models.registry import model_id

    ids = []
    for run in range(2):  # the registry is wiped and a different model registered as v0001 again
        reg = ModelRegistry(tmp_path / f"models{run}", b"k")
        v = _register(reg, {"weights": [run]})
        ids.append(model_id(reg.manifest(v)))
    assert ids[0].startswith("v0001-") and ids[1].startswith("v0001-") and ids[0] != ids[1]
