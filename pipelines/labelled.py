"""An archive office's already-catalogued files as training and evaluation data.

Two layouts are read:

* a folder tree whose folder names start with an item code (``C5-1/``, ``C5-1 隐蔽工程验收记录/``,
  ``C/C5/C5-1/…``) or are an item's catalogue name (``隐蔽工程验收记录/``): each file takes the item of
  its nearest such folder;
* a CSV or JSONL file with ``file`` and ``item_code`` columns (paths relative to that file), such as
  an export of the office's own catalogue register; the item may be written as people type it
  (``c5－1``, ``C5-1 隐蔽工程验收记录``, or the name alone). Extra columns are ignored.

Text is extracted exactly as the batch pipeline does (text layer, OCR where needed) and cached by
sha256 under the state folder, so retraining or re-evaluating never OCRs the same scan twice.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import random
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from features.errors import DanganError
from features.hashing import sha256_file
from models.catalogue import Catalogue
from pipelines.discovery import discover
from pipelines.settings import Settings

log = logging.getLogger(__name__)


class LabelledDataError(ValueError):
    """The labelled set cannot be read (missing file, unknown item codes, nothing usable)."""


@dataclass(frozen=True)
class LabelledFile:
    path: Path
    item_code: str
    display: str


@dataclass(frozen=True)
class LabelledText:
    display: str
    item_code: str
    text: str
    sha256: str


def load_labelled(source: Path, catalogue: Catalogue) -> list[LabelledFile]:
    """Every labelled file of ``source`` (folder tree, .csv or .jsonl), in a stable order."""
    source = Path(source)
    if not source.exists():
        raise LabelledDataError(f"labelled data not found: {source}")
    if source.is_dir():
        return _from_tree(source, catalogue)
    if source.suffix.lower() in (".csv", ".jsonl", ".json"):
        return _from_table(source, catalogue)
    raise LabelledDataError(f"{source}: expected a folder, a .csv or a .jsonl file")


def _from_tree(root: Path, catalogue: Catalogue) -> list[LabelledFile]:
    out = []
    for job in discover([root]):
        rel = Path(job.display)
        # The nearest folder named by an item: C5-1, C5-1 隐蔽工程验收记录, Ｃ５－１ or 隐蔽工程验收记录.
        code = next((c for c in map(catalogue.resolve, reversed(rel.parts[:-1])) if c), None)
        if code:
            out.append(LabelledFile(job.path, code, job.display))
    if not out:
        raise LabelledDataError(f"{root}: no file lies under a folder named by an item code (e.g. C5-1/)")
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(text.splitlines()))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _from_table(path: Path, catalogue: Catalogue) -> list[LabelledFile]:
    base = path.resolve().parent
    out, unknown, missing = [], [], []
    for row in _rows(path):
        name, label = str(row.get("file") or "").strip(), str(row.get("item_code") or "").strip()
        if not name or not label:
            continue  # e.g. bad-input rows of a demo inbox, which carry no label
        code = catalogue.resolve(label)  # C5-1, c5－1, "C5-1 隐蔽工程验收记录" or just the item's name
        if code is None:
            unknown.append(label)
            continue
        f = (base / name).resolve()
        if not f.is_file():
            missing.append(name)
            continue
        out.append(LabelledFile(f, code, name))
    if unknown:
        raise LabelledDataError(f"{path}: item codes not in the catalogue: {sorted(set(unknown))[:10]}")
    if missing:
        log.warning("%s: %d listed files are missing (first: %s)", path, len(missing), missing[0])
    if not out:
        raise LabelledDataError(f"{path}: no usable rows (need columns file,item_code)")
    return out


# ------------------------------------------------------------------------------------ texts
_ENGINE = None


def _extract_one(path: Path, sha: str, settings: Settings) -> str:
    global _ENGINE
    cached = settings.cache_dir / "texts" / f"{sha}.txt"
    if cached.exists():
        return cached.read_text(encoding="utf-8")
    from features.extraction import extract_document

    def engine():  # type: ignore[no-untyped-def]
        global _ENGINE
        if _ENGINE is None:
            from features.ocr.registry import create_engine

            _ENGINE = create_engine(settings.ocr_engine, threads=settings.ocr_threads, cache_dir=settings.cache_dir)
        return _ENGINE

    text = extract_document(
        path, engine_factory=engine, dpi=settings.dpi, max_pixels=settings.max_image_pixels,
        max_pages=settings.max_pages, min_text_chars=settings.min_text_chars,
    ).text
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(f".{cached.name}.{os.getpid()}.part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, cached)
    return text


def _extract_task(args: tuple[Path, str, Settings]) -> tuple[str | None, str | None]:
    path, sha, settings = args
    try:
        return _extract_one(path, sha, settings), None
    except DanganError as exc:
        return None, f"{exc.code}: {exc.message}"


def extract_texts(files: Sequence[LabelledFile], settings: Settings) -> tuple[list[LabelledText], list[str]]:
    """Texts of the files that can be read, and one message per file that cannot."""
    shas = [sha256_file(f.path) for f in files]
    tasks = [(f.path, sha, settings) for f, sha in zip(files, shas)]
    if settings.workers > 1 and len(tasks) > 8:
        from pipelines.processing import limit_native_threads

        with ProcessPoolExecutor(settings.workers, initializer=limit_native_threads, initargs=(settings.ocr_threads,)) as pool:
            outcomes = list(pool.map(_extract_task, tasks, chunksize=4))
    else:
        outcomes = [_extract_task(t) for t in tasks]
    texts, problems = [], []
    for f, sha, (text, error) in zip(files, shas, outcomes):
        if error or not (text or "").strip():
            problems.append(f"{f.display}: {error or 'no text'}")
            continue
        texts.append(LabelledText(f.display, f.item_code, text or "", sha))
    return texts, problems


def stratified_split(
    docs: Sequence[LabelledText], seed: int, calib_share: float = 0.15, test_share: float = 0.2
) -> dict[str, list[LabelledText]]:
    """Per item: a test share and a calibration share, the rest for training.

    Copies of one file (same sha256) stay in one split, so a duplicate never leaks into the test.
    An item with one document goes to training only; with two, one is held out for the test.
    """
    rng = random.Random(seed)
    by_item: dict[str, list[list[LabelledText]]] = defaultdict(list)
    groups: dict[str, list[LabelledText]] = defaultdict(list)
    for d in docs:
        groups[d.sha256].append(d)
    for group in groups.values():
        by_item[group[0].item_code].append(group)
    out: dict[str, list[LabelledText]] = {"train": [], "calib": [], "test": []}
    for code in sorted(by_item):
        items = sorted(by_item[code], key=lambda g: g[0].sha256)
        rng.shuffle(items)
        n = len(items)
        n_test = 0 if n < 2 else max(1, round(n * test_share))
        n_calib = 0 if n < 4 else max(1, round(n * calib_share))
        for i, group in enumerate(items):
            split = "test" if i < n_test else "calib" if i < n_test + n_calib else "train"
            out[split].extend(group)
    return out
