"""Chinese word segmentation with a construction-domain dictionary.

jieba's stock dictionary splits trade terms (隐蔽工程验收记录 → 隐蔽 / 工程 / 验收 / 记录), which blurs the
very words that tell catalogue items apart. ``Segmenter`` adds the catalogue's item names, their
local names and the trade vocabulary in ``features/data/construction_terms.txt`` as whole words.
Each instance owns a private ``jieba.Tokenizer`` so that different dictionaries never leak into each
other through jieba's module-level state.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

import jieba
import jieba.analyse

TERMS_FILE = Path(__file__).resolve().parent / "data" / "construction_terms.txt"
STOPWORDS_FILE = Path(__file__).resolve().parent / "data" / "stopwords.txt"
_DOMAIN_FREQ = 200_000  # high enough that jieba's DAG prefers the whole term over its parts
_TOKEN_RE = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")

jieba.setLogLevel(logging.WARNING)


def normalize_text(text: str) -> str:
    """NFKC (full-width → half-width, compatibility forms) so 'Ｃ３０' and 'C30' become one token."""
    return unicodedata.normalize("NFKC", text)


def load_terms(path: Path = TERMS_FILE) -> list[tuple[str, int]]:
    terms = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        freq = int(parts[1]) if len(parts) > 1 else _DOMAIN_FREQ
        terms.append((parts[0], freq))
    return terms


def load_stopwords(path: Path = STOPWORDS_FILE) -> frozenset[str]:
    return frozenset(
        w.strip() for w in path.read_text(encoding="utf-8").splitlines() if w.strip() and not w.startswith("#")
    )


class Segmenter:
    """Segments text into words; ``extra_terms`` are domain words (e.g. catalogue names) kept whole."""

    def __init__(self, extra_terms: Iterable[str] = ()) -> None:
        self.extra_terms = tuple(dict.fromkeys(t for t in extra_terms if t and len(t) >= 2))

    @cached_property
    def _tokenizer(self) -> jieba.Tokenizer:
        tok = jieba.Tokenizer()
        tok.initialize()
        for term, freq in load_terms():
            tok.add_word(term, freq)
        for term in self.extra_terms:
            tok.add_word(normalize_text(term), _DOMAIN_FREQ)
        return tok

    @cached_property
    def stopwords(self) -> frozenset[str]:
        return load_stopwords()

    def words(self, text: str) -> list[str]:
        """Words with punctuation and whitespace dropped (numbers and Latin tokens kept)."""
        return [w for w in self._tokenizer.lcut(normalize_text(text), HMM=True) if _TOKEN_RE.search(w)]

    @cached_property
    def _tfidf(self) -> jieba.analyse.TFIDF:
        # Built once: TFIDF() reads jieba's IDF table (≈0.2 s), far more than one document costs.
        extractor = jieba.analyse.TFIDF()
        extractor.tokenizer = self._tokenizer
        extractor.postokenizer = None  # type: ignore[assignment]
        extractor.stop_words = set(extractor.stop_words) | set(self.stopwords)
        return extractor

    def warm_up(self) -> Segmenter:
        """Build the dictionary and the keyword extractor now (≈1 s) instead of on the first text."""
        self._tokenizer  # noqa: B018 - cached_property: built on first access
        self._tfidf  # noqa: B018
        return self

    def keywords(self, text: str, top_k: int = 8) -> list[str]:
        """Keywords by TF-IDF over this segmenter's words, domain stop-words and numbers removed."""
        words = self._tfidf.extract_tags(normalize_text(text), topK=top_k * 3)
        out = [w for w in words if len(w) >= 2 and not re.fullmatch(r"[\d.\-/A-Za-z]+", w)]
        return out[:top_k]

    def __getstate__(self) -> dict:
        # The tokenizer is rebuilt lazily in each worker process rather than pickled.
        return {"extra_terms": self.extra_terms}

    def __setstate__(self, state: dict) -> None:
        self.extra_terms = state["extra_terms"]
