"""Uploads from the workbench (a phone in the field, a reviewer's desktop) into the inbox the batch reads.

The same checks as the batch (:func:`features.preflight.preflight`: size, real type by content, the
container opens, pixel limits), so a file the pipeline would refuse is refused here, at once, with the
same message. A file is streamed to a hidden temporary name inside the inbox (never more than the size
limit is written), checked, and renamed into ``<inbox>/uploads/<date>/`` under a sanitised name; the
client's file name is never used as a path. A file whose content is already there is not stored twice.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import UploadFile

from features.errors import DanganError
from features.preflight import preflight
from pipelines.archive import safe_name
from pipelines.settings import Settings

CHUNK = 1 << 20


@dataclass(frozen=True)
class UploadOutcome:
    name: str  # as the client sent it (for display only)
    status: str  # accepted | duplicate | refused
    message: str
    stored_as: str | None = None  # path relative to the inbox
    sha256: str | None = None
    error_code: str | None = None


async def receive_upload(upload: UploadFile, settings: Settings) -> UploadOutcome:
    shown = (upload.filename or "upload")[:200]
    inbox = settings.inbox_dir
    tmp_dir = inbox / ".incoming"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"{secrets.token_hex(8)}.part"
    limit = settings.max_file_mb * 1024 * 1024
    digest = hashlib.sha256()
    size = 0
    try:
        with tmp.open("wb") as fh:
            while chunk := await upload.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    return UploadOutcome(shown, "refused", f"file is above the {settings.max_file_mb} MB limit",
                                         error_code="too_large")
                digest.update(chunk)
                fh.write(chunk)
        try:
            ftype = preflight(tmp, max_bytes=limit, max_pixels=settings.max_image_pixels)
        except DanganError as exc:
            return UploadOutcome(shown, "refused", exc.message, error_code=str(exc.code))
        sha = digest.hexdigest()
        day = datetime.now(ZoneInfo(settings.timezone)).strftime("%Y-%m-%d")
        folder = inbox / "uploads" / day
        existing = _same_content(inbox / "uploads", sha)
        if existing is not None:
            return UploadOutcome(shown, "duplicate", "the same file is already in the inbox",
                                 stored_as=existing.relative_to(inbox).as_posix(), sha256=sha)
        folder.mkdir(parents=True, exist_ok=True)
        stem = safe_name(Path(shown).stem, "upload")
        suffix = _suffix(shown, ftype.format)
        target = folder / f"{stem}{suffix}"
        if target.exists():
            target = folder / f"{stem}-{sha[:8]}{suffix}"
        os.replace(tmp, target)
        (folder / f".{target.name}.sha256").write_text(sha)
        return UploadOutcome(shown, "accepted", f"{ftype.format}, {size / 1024:.0f} kB — queued for the next run",
                             stored_as=target.relative_to(inbox).as_posix(), sha256=sha)
    finally:
        tmp.unlink(missing_ok=True)
        await upload.close()


def _suffix(name: str, fmt: str) -> str:
    """Keep the client's extension when it is a plain one, else name the detected format."""
    ext = Path(name).suffix.lower()
    if ext and len(ext) <= 6 and ext[1:].isalnum():
        return ext
    return {"PDF": ".pdf", "PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "WebP": ".webp", "BMP": ".bmp",
            "GIF": ".gif"}.get(fmt, ".bin")


def _same_content(root: Path, sha: str) -> Path | None:
    """An upload already stored with this content (its ``.<name>.sha256`` sidecar says so)."""
    if not root.is_dir():
        return None
    for sidecar in root.glob("*/.*.sha256"):
        try:
            if sidecar.read_text().strip() == sha:
                target = sidecar.with_name(sidecar.name[1:-len(".sha256")])
                if target.is_file():
                    return target
        except OSError:
            continue
    return None
