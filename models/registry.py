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

Loading fast: ``model.joblib`` is compact (zlib) but slow to read back — joblib decompresses ~650 MB
of coefficients through a pure-Python unpickler, 5–8 s in every worker process of every run. The
active version therefore also gets ``model.fast``, a derived copy written once (at registration,
or on its first load): the same object as a protocol-5 pickle whose large arrays are stored raw,
out of band, page-aligned. Loading it maps the file and hands the arrays to the C unpickler as
zero-copy, read-only views (≈0.1 s; workers share the pages through the page cache). It carries its
own HMAC (over every byte, with a key derived from the installation's) and the sha256 of the
artifact it was made from, so it is used only for that verified artifact and never unpickled
unless signed; a missing, stale or unsigned copy is ignored and rebuilt from ``model.joblib``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import mmap
import os
import pickle
import platform
import secrets
import shutil
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from features.hashing import sha256_file

# v1: ArchiveClassifier (text SVM + evidence combiner)
# v2: combiner gains the first_title evidence feature; calibration on out-of-family scores
# v3: class-level text model and route, novelty (out-of-catalogue) model
# v4: character n-gram text model (no word n-grams); combiner gains top-3 and class-top features
# v5: Platt scaling of the top answer's confidence (confidence_map_)
# v6: combiner gains text_gap, its text-score weights are kept ≥ 0; sparse float32 text-model weights
FORMAT_VERSION = 6
_ARTIFACT = "model.joblib"
_MANIFEST = "manifest.json"
_ACTIVE = "ACTIVE"
_FAST = "model.fast"  # derived, signed, memory-mappable copy of model.joblib (see the module docstring)
_FAST_MAGIC = b"DANGANF1"
_FAST_ALIGN = 4096  # raw buffers start on page boundaries (any alignment numpy needs is smaller)
_MAC_SIZE = hashlib.sha256().digest_size

log = logging.getLogger(__name__)


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
        import joblib  # here, not at the top: importing the registry must stay cheap (the flow's parent)

        joblib.dump(model, part / _ARTIFACT, compress=3)
        artifact_sha256 = sha256_file(part / _ARTIFACT)
        if activate:  # it is loaded by every worker of the next run: make its fast copy now
            self._write_fast(model, part / _FAST, artifact_sha256)
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
            "artifact_sha256": artifact_sha256,
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
        """The verified model and its manifest (the active one by default).

        Read from the signed fast copy when there is a valid one (its numpy arrays are then
        read-only views of the mapped file); otherwise from ``model.joblib``, and the active
        version's fast copy is (re)built for the next load.
        """
        active = self.active_version()
        if version is None:
            version = active
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
        fast = self._load_fast(directory / _FAST, manifest["artifact_sha256"])
        if fast is not None:
            return fast[0], manifest
        import joblib

        model = joblib.load(artifact)
        if version == active:
            self._write_fast(model, directory / _FAST, manifest["artifact_sha256"])
        return model, manifest

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

    # ---------------------------------------------------------------------------- fast copy
    def _fast_key(self) -> bytes:
        """A key of its own for fast copies (never the one that signs manifests)."""
        return hmac.new(self._key, b"dangan model.fast v1", hashlib.sha256).digest()

    def _write_fast(self, model: Any, path: Path, artifact_sha256: str) -> None:
        """Write ``model`` as a fast copy bound to ``artifact_sha256``. Best effort: a fast copy only
        saves time, so failing to write one (read-only registry, full disk) is logged, not raised.

        Layout: magic, header length, JSON header (artifact sha256, where the pickle and each raw
        buffer lie), the protocol-5 pickle, the page-aligned buffers, then HMAC-SHA256 of all of it.
        """
        tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
        try:
            buffers: list[pickle.PickleBuffer] = []
            body = pickle.dumps(model, protocol=5, buffer_callback=buffers.append)
            raws = [b.raw() for b in buffers]
            # The header states the offsets, which depend on the header's length: fix its width first.
            width = len(json.dumps({"artifact_sha256": artifact_sha256, "pickle": [2**62, len(body)],
                                    "buffers": [[2**62, r.nbytes] for r in raws]}))
            offset = len(_FAST_MAGIC) + 8 + width
            spans = [[offset, len(body)]]
            offset += len(body)
            for r in raws:
                offset += -offset % _FAST_ALIGN
                spans.append([offset, r.nbytes])
                offset += r.nbytes
            header = json.dumps({"artifact_sha256": artifact_sha256, "pickle": spans[0], "buffers": spans[1:]})
            header = header.ljust(width).encode()
            mac = hmac.new(self._fast_key(), digestmod=hashlib.sha256)
            with tmp.open("wb") as fh:

                def put(data: bytes | memoryview) -> None:
                    fh.write(data)
                    mac.update(data)

                put(_FAST_MAGIC + struct.pack("<Q", len(header)) + header)
                put(body)
                for (start, _), r in zip(spans[1:], raws):
                    put(b"\0" * (start - fh.tell()))
                    put(r)
                fh.write(mac.digest())
            os.replace(tmp, path)
        except Exception as exc:  # noqa: BLE001 - see docstring
            log.warning("no fast copy of the model written to %s (%s): workers load model.joblib, 5-8 s each",
                        path, exc)
            tmp.unlink(missing_ok=True)

    def _load_fast(self, path: Path, artifact_sha256: str) -> tuple[Any] | None:
        """The model from a fast copy made from ``artifact_sha256`` and signed by this installation;
        None when there is no such copy (missing, stale, truncated, foreign or tampered)."""
        try:
            with path.open("rb") as fh:
                mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # missing, unreadable or empty
            return None
        view = memoryview(mapped)
        head = len(_FAST_MAGIC) + 8
        model: tuple[Any] | None = None
        try:
            if len(view) >= head + _MAC_SIZE and view[: len(_FAST_MAGIC)] == _FAST_MAGIC:
                mac = hmac.new(self._fast_key(), view[:-_MAC_SIZE], hashlib.sha256).digest()
                if not hmac.compare_digest(mac, view[-_MAC_SIZE:]):
                    log.warning("%s is not signed by this installation's key; ignoring it", path)
                else:  # signed by us: the content is what _write_fast wrote
                    (width,) = struct.unpack_from("<Q", view, len(_FAST_MAGIC))
                    header = json.loads(bytes(view[head : head + width]))
                    if header["artifact_sha256"] == artifact_sha256:  # else: made from another artifact
                        (a, n), spans = header["pickle"], header["buffers"]
                        model = (pickle.loads(view[a : a + n], buffers=[view[s : s + k] for s, k in spans]),)
        except Exception as exc:  # noqa: BLE001 - e.g. written by other library versions: use model.joblib
            log.warning("cannot read %s (%s); loading model.joblib instead", path, exc)
        finally:
            view.release()
        if model is None:
            with contextlib.suppress(BufferError):  # a half-built object may still hold a view
                mapped.close()
        # else the model's arrays are views of the mapping, which lives as long as they do
        return model

    def _next_version(self) -> str:
        numbers = [int(p.name[1:]) for p in self.root.glob("v[0-9]*") if p.name[1:].isdigit()]
        return f"v{max(numbers, default=0) + 1:04d}"
