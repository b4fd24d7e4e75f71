"""Versioned, signed model files: the only way a model is saved or loaded.

Layout under the registry root::

    v0003/
        model.joblib      # the fitted estimator
        manifest.json     # version, created, format, library versions, catalogue hash, training-data
                          # hash, metrics, thresholds, sha256 of model.joblib, HMAC of all of it
    ACTIVE                # name of the active version

joblib files are pickles, and unpickling runs code. So ``load`` first checks the artifact's sha256
against the manifest and the manifest's HMAC against the installation's secret key, and refuses
anything else: a file dropped into the folder by hand or altered after training never gets
unpickled. Writes go to a ``.part`` directory renamed into place, so a crash never leaves a
half-written version.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import platform
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
from features.hashing import sha256_file

# v1: ArchiveClassifier (text SVM + evidence combiner)
# v2: combiner gains the first_title evidence feature; calibration on out-of-family scores
FORMAT_VERSION = 3
_ARTIFACT = "model.joblib"
_MANIFEST = "manifest.json"
_ACTIVE = "ACTIVE"


class RegistryError(Exception):
    """A model could not be found, verified or loaded."""


class TamperedModelError(RegistryError):
    """The artifact or its manifest does not match its signature: refuse to unpickle it."""


@dataclass(frozen=True)
class ModelInfo:
    version: str
    created: str
    active: bool
    metrics: dict[str, Any]
    thresholds: dict[str, Any]
    training_data_sha256: str
    path: Path
    notes: str = ""



def _libraries() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("scikit-learn", "numpy", "scipy", "jieba", "joblib"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def load_or_create_key(path: Path) -> bytes:
    """The installation's signing key: from DANGAN_SECRET_KEY, else a 0600 key file created once."""
    env = os.environ.get("DANGAN_SECRET_KEY")
    if env:
        return env.encode()
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    tmp = path.with_suffix(".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    os.replace(tmp, path)
    return key


def model_id(manifest: dict[str, Any]) -> str:
    """The name results carry: version plus artifact hash, unique even if a registry is recreated
    (a new ``v0001`` must never be mistaken for an old one when resuming a run)."""
    return f"{manifest['version']}-{manifest['artifact_sha256'][:8]}"


class ModelRegistry:
    def __init__(self, root: Path, key: bytes) -> None:
        self.root = Path(root)
        self._key = key

    # --------------------------------------------------------------------------------- write
    def register(
        self,
        model: Any,
        *,
        metrics: dict[str, Any],
        thresholds: dict[str, Any],
        training_data_sha256: str,
        catalogue_sha256: str,
        activate: bool = True,
        notes: str = "",
    ) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        version = self._next_version()
        part = self.root / f".{version}.part"
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir()
        joblib.dump(model, part / _ARTIFACT, compress=3)
        manifest = {
            "version": version,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "format_version": FORMAT_VERSION,
            "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
            "libraries": _libraries(),
            "catalogue_sha256": catalogue_sha256,
            "training_data_sha256": training_data_sha256,
            "metrics": metrics,
            "thresholds": thresholds,
            "notes": notes,
            "artifact_sha256": sha256_file(part / _ARTIFACT),
        }
        manifest["hmac"] = self._sign(manifest)
        (part / _MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(part, self.root / version)
        if activate:
            self.activate(version)
        return version

    def activate(self, version: str) -> None:
        self._verify_manifest(self._dir(version))
        tmp = self.root / f".{_ACTIVE}.part"
        tmp.write_text(version, encoding="utf-8")
        os.replace(tmp, self.root / _ACTIVE)

    # ---------------------------------------------------------------------------------- read
    def active_version(self) -> str | None:
        path = self.root / _ACTIVE
        if not path.exists():
            return None
        version = path.read_text(encoding="utf-8").strip()
        return version if (self.root / version / _MANIFEST).exists() else None

    def versions(self) -> list[ModelInfo]:
        if not self.root.exists():
            return []
        active = self.active_version()
        out = []
        for d in sorted(p for p in self.root.iterdir() if p.is_dir() and p.name.startswith("v")):
            try:
                m = self._verify_manifest(d)
            except RegistryError:
                continue
            out.append(
                ModelInfo(
                    version=m["version"], created=m["created"], active=m["version"] == active,
                    metrics=m["metrics"], thresholds=m["thresholds"],
                    training_data_sha256=m["training_data_sha256"], path=d, notes=m.get("notes", ""),
                )
            )
        return out

    def manifest(self, version: str) -> dict[str, Any]:
        return self._verify_manifest(self._dir(version))

    def load(self, version: str | None = None) -> tuple[Any, dict[str, Any]]:
        """The verified model and its manifest (the active one by default)."""
        if version is None:
            version = self.active_version()
        if version is None:
            raise RegistryError(f"no active model in {self.root}; run `dangan train` first")
        directory = self._dir(version)
        manifest = self._verify_manifest(directory)
        if manifest["format_version"] != FORMAT_VERSION:
            raise RegistryError(
                f"model {version} has format {manifest['format_version']}, this dangan reads {FORMAT_VERSION}: retrain"
            )
        artifact = directory / _ARTIFACT
        if sha256_file(artifact) != manifest["artifact_sha256"]:
            raise TamperedModelError(f"{artifact} does not match its manifest's sha256; refusing to load it")
        return joblib.load(artifact), manifest

    # ------------------------------------------------------------------------------- helpers
    def _dir(self, version: str) -> Path:
        if not version or "/" in version or "\\" in version or version.startswith("."):
            raise RegistryError(f"invalid model version {version!r}")
        directory = self.root / version
        if not (directory / _MANIFEST).exists():
            raise RegistryError(f"no model version {version!r} in {self.root}")
        return directory

    def _sign(self, manifest: dict[str, Any]) -> str:
        body = json.dumps({k: v for k, v in manifest.items() if k != "hmac"}, sort_keys=True, ensure_ascii=False)
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()

    def _verify_manifest(self, directory: Path) -> dict[str, Any]:
        try:
            manifest = json.loads((directory / _MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RegistryError(f"unreadable manifest in {directory}: {exc}") from exc
        if not hmac.compare_digest(str(manifest.get("hmac", "")), self._sign(manifest)):
            raise TamperedModelError(
                f"manifest of {directory.name} is not signed by this installation's key; refusing it"
            )
        return manifest

    def _next_version(self) -> str:
        numbers = [int(p.name[1:]) for p in self.root.glob("v[0-9]*") if p.name[1:].isdigit()]
        return f"v{max(numbers, default=0) + 1:04d}"
