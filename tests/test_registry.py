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


# ------------------------------------------------------------------------------------ fast copy
def _payload():
    import numpy as np

    return {"coef": np.arange(40_000, dtype=np.float64).reshape(200, 200), "names": ["a", "b"], "small": np.ones(3)}


def test_active_model_gets_a_fast_copy_that_loads_as_read_only_views(registry):
    import numpy as np

    v = _register(registry, _payload())
    assert (registry.root / v / "model.fast").exists()
    model, manifest = registry.load()
    assert manifest["version"] == v and model["names"] == ["a", "b"]
    np.testing.assert_array_equal(model["coef"], _payload()["coef"])
    assert not model["coef"].flags.writeable  # a view of the mapped file, shared between workers


def test_fast_copy_is_made_on_first_load_of_the_active_version_only(registry):
    v1 = registry.register(_payload(), metrics={}, thresholds={}, training_data_sha256="a", catalogue_sha256="b",
                           activate=False)
    assert not (registry.root / v1 / "model.fast").exists()
    registry.load(v1)  # not active: no copy
    assert not (registry.root / v1 / "model.fast").exists()
    registry.activate(v1)
    registry.load()
    assert (registry.root / v1 / "model.fast").exists()
    assert not registry.load()[0]["coef"].flags.writeable  # now read from the copy


def test_tampered_fast_copy_is_ignored_and_rebuilt(registry):
    import numpy as np

    v = _register(registry, _payload())
    fast = registry.root / v / "model.fast"
    data = bytearray(fast.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the coefficients
    fast.write_bytes(bytes(data))
    model, _ = registry.load()
    np.testing.assert_array_equal(model["coef"], _payload()["coef"])
    assert model["coef"].flags.writeable  # came from model.joblib
    assert registry._load_fast(fast, registry.manifest(v)["artifact_sha256"]) is not None  # rebuilt


def test_fast_copy_of_another_installation_or_artifact_is_ignored(registry):
    v1 = _register(registry, _payload())
    v2 = _register(registry, {"weights": [4]})
    sha1, sha2 = (registry.manifest(v)["artifact_sha256"] for v in (v1, v2))
    other = ModelRegistry(registry.root, b"another key")
    assert other._load_fast(registry.root / v1 / "model.fast", sha1) is None  # not signed by that key
    assert registry._load_fast(registry.root / v1 / "model.fast", sha2) is None  # made from another artifact
    (registry.root / v2 / "model.fast").write_bytes((registry.root / v1 / "model.fast").read_bytes())
    assert registry.load()[0] == {"weights": [4]}  # v2 is active: v1's copy under its name is not used
    (registry.root / v2 / "model.fast").write_bytes(b"")
    assert registry.load()[0] == {"weights": [4]}  # an empty or truncated copy neither


def test_tampered_artifact_is_refused_even_with_a_valid_fast_copy(registry):
    v = _register(registry, _payload())
    assert (registry.root / v / "model.fast").exists()
    joblib.dump({"weights": "evil"}, registry.root / v / "model.joblib")
    with pytest.raises(TamperedModelError):
        registry.load(v)


def test_failing_to_write_a_fast_copy_is_not_fatal(registry, monkeypatch):
    import models.registry as reg

    def broken(*a, **k):
        raise OSError("read-only file system")

    monkeypatch.setattr(reg.pickle, "dumps", broken)
    v = _register(registry, _payload())
    assert not (registry.root / v / "model.fast").exists()
    assert registry.load()[0]["names"] == ["a", "b"]
    assert not list((registry.root / v).glob(".*.part"))
