"""Tesseract 5 ``chi_sim`` through its command line: a benchmark baseline and a tiny fallback.

It needs ~90 MB instead of ~1 GB and is the fastest engine, but is about ten times less accurate on
Chinese (CER 6.7 % clean, 13 % degraded; ocr.md §2). ``OMP_THREAD_LIMIT`` is always set: left to
OpenMP's default on 2 busy cores it is up to 7x slower.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import unicodedata

import cv2
import numpy as np

from features.ocr.base import EngineUnavailableError, OcrLine, OcrResult
from features.ocr.layout import reading_order


class TesseractUnavailableError(EngineUnavailableError):
    """The tesseract binary or its chi_sim language data is not installed."""


class TesseractEngine:
    """Runs ``tesseract stdin stdout -l chi_sim --psm 3 tsv`` per page and rebuilds lines from the TSV."""

    name = "tesseract"

    def __init__(self, *, threads: int = 1, lang: str = "chi_sim", psm: int = 3, timeout: float = 120.0) -> None:
        binary = shutil.which("tesseract")
        if binary is None:
            raise TesseractUnavailableError("tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-chi-sim)")
        langs = subprocess.run([binary, "--list-langs"], capture_output=True, text=True, timeout=30).stdout.split()
        missing = [part for part in lang.split("+") if part not in langs]
        if missing:
            raise TesseractUnavailableError(f"tesseract language data missing: {', '.join(missing)} (apt-get install tesseract-ocr-chi-sim)")
        self.binary = binary
        self.lang = lang
        self.psm = psm
        self.timeout = timeout
        self.threads = threads
        self._env = dict(os.environ, OMP_THREAD_LIMIT=str(threads))

    def recognize(self, image: np.ndarray) -> OcrResult:
        ok, png = cv2.imencode(".png", image)
        if not ok:
            raise ValueError("could not encode the page image for tesseract")
        cmd = [self.binary, "stdin", "stdout", "-l", self.lang, "--psm", str(self.psm),
               "-c", "preserve_interword_spaces=1", "tsv"]
        proc = subprocess.run(cmd, input=png.tobytes(), capture_output=True, timeout=self.timeout,
                              env=self._env, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"tesseract exited with {proc.returncode}: {proc.stderr.decode(errors='replace')[-300:]}")
        return OcrResult(lines=reading_order(parse_tsv(proc.stdout.decode("utf-8", errors="replace"))))


def parse_tsv(tsv: str) -> list[OcrLine]:
    """One ``OcrLine`` per Tesseract line from its TSV output (level-5 words grouped by line id)."""
    lines: dict[tuple[str, str, str, str], list[dict[str, str]]] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row.get("level") != "5" or not (row.get("text") or "").strip():
            continue
        key = (row["page_num"], row["block_num"], row["par_num"], row["line_num"])
        lines.setdefault(key, []).append(row)
    out: list[OcrLine] = []
    for words in lines.values():
        text = ""
        for word in words:
            token = word["text"].strip()
            # chi_sim splits Chinese into one "word" per glyph; only Latin/digit runs keep a space.
            if text and not (_is_cjk(text[-1]) or _is_cjk(token[0])):
                text += " "
            text += token
        x0 = min(int(w["left"]) for w in words)
        y0 = min(int(w["top"]) for w in words)
        x1 = max(int(w["left"]) + int(w["width"]) for w in words)
        y1 = max(int(w["top"]) + int(w["height"]) for w in words)
        confs = [float(w["conf"]) for w in words if float(w["conf"]) >= 0]
        score = (sum(confs) / len(confs) / 100.0) if confs else 0.0
        out.append(OcrLine(text=text, score=score, box=(float(x0), float(y0), float(x1), float(y1))))
    return out


def _is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")
