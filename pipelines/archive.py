"""The archive store: accepted originals, copied (never moved or altered) into content-addressed storage,
with a browsable view by project / stage / class / item.

``objects/ab/abcdef…<ext>`` holds each original once, named by its sha256 (so a file filed twice, or
under two names, is stored once); it is written to a temporary name, checked against its hash and
renamed, so a crash never leaves a partial object. ``view/<工程名称>/<stage>/<class>/<item>/<file>``
are relative symbolic links into ``objects``: browsable in a file manager, rebuilt at no cost.
The inbox is only read.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from features.hashing import sha256_file
from models.catalogue import Catalogue, Item
from pipelines.results import FileResult

log = logging.getLogger(__name__)
NO_PROJECT = "未识别工程"
_UNSAFE = re.compile(r'[\x00-\x1f/\\:*?"<>|]+')


@dataclass(frozen=True)
class Filed:
    sha256: str
    object_path: Path
    view_path: Path


def safe_name(name: str, fallback: str) -> str:
    """One path component from free text: no separators, no '..', no control characters, ≤ 80 chars."""
    cleaned = re.sub(r"_+", "_", re.sub(r"\.{2,}", "_", _UNSAFE.sub("_", name))).strip(" ._")
    return cleaned[:80] or fallback


class ArchiveStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def object_path(self, sha256: str, suffix: str) -> Path:
        return self.root / "objects" / sha256[:2] / f"{sha256}{suffix.lower()}"

    def put(self, source: Path, sha256: str) -> Path:
        """Copy ``source`` in once; a changed source (hash differs from the recorded one) is refused."""
        target = self.object_path(sha256, source.suffix)
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
        shutil.copy2(source, tmp)
        if sha256_file(tmp) != sha256:
            tmp.unlink()
            raise ValueError(f"{source} changed since it was processed; not archived")
        os.replace(tmp, target)
        return target

    def file(self, result: FileResult, source: Path, catalogue: Catalogue) -> Filed | None:
        """Store an auto-filed result's original and link it into the view; None if it is not filed."""
        if result.status != "ok" or result.route != "auto" or not result.item_code or not result.sha256:
            return None
        return self.file_as(source, result.sha256, catalogue[result.item_code], result.tags.project_name,
                            Path(result.file).name)

    def _folder(self, item: Item, project: str | None) -> Path:
        return (self.root / "view" / safe_name(project or "", NO_PROJECT) / item.stage
                / safe_name(f"{item.class_code} {item.class_name}", item.class_code)
                / safe_name(f"{item.code} {item.name}", item.code))

    def unfile(self, sha256: str, item: Item, project: str | None) -> int:
        """Remove the view's links to this content under ``item`` (a label that was corrected). The object
        stays: it is the original, and other links may point to it. Returns how many links went."""
        folder = self._folder(item, project)
        gone = 0
        for link in folder.glob("*") if folder.is_dir() else []:
            if link.is_symlink() and link.resolve().name.startswith(sha256):
                link.unlink()
                gone += 1
        return gone

    def file_as(self, source: Path, sha256: str, item: Item, project: str | None, name: str) -> Filed:
        """Store ``source`` (content ``sha256``) and link it under ``item`` of ``project`` as ``name``: what a
        reviewer's label files (the pipeline's auto route goes through :meth:`file`)."""
        obj = self.put(source, sha256)
        folder = self._folder(item, project)
        folder.mkdir(parents=True, exist_ok=True)
        name = safe_name(name, sha256[:12])
        link = folder / name
        if link.is_symlink() and link.resolve() != obj.resolve():
            link = folder / f"{Path(name).stem}-{sha256[:8]}{Path(name).suffix}"
        if not link.is_symlink():
            tmp = folder / f".{link.name}.part"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(os.path.relpath(obj, folder))
            os.replace(tmp, link)
        return Filed(sha256, obj, link)

    def file_all(self, pairs: Iterable[tuple[FileResult, Path]], catalogue: Catalogue) -> list[Filed]:
        """``file`` for each pair; a file that cannot be archived is logged and skipped, never fatal."""
        filed = []
        for result, path in pairs:
            try:
                if (f := self.file(result, path, catalogue)) is not None:
                    filed.append(f)
            except (OSError, ValueError) as exc:
                log.warning("not archived: %s: %s", result.file, exc)
        return filed
