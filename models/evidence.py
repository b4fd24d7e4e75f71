"""Catalogue evidence: how well each item's names, fields and keywords are supported by a document.

A learned text model only knows the wordings it was trained on. Real archives carry local names
(技术核定单 for 工程洽商记录), OCR slips and styles never seen, but almost always print the form's
title near the top and its field labels in the body. This module turns that knowledge into a small,
item-tied feature block ``(n_docs, n_items, n_features)``: the same few weights then apply to every
item, so an item that is rare in training still lands when its title is on the page.

Matching is by character bigrams (robust to one wrong OCR character) computed with sparse products.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from features.segmentation import normalize_text
from models.catalogue import Catalogue
from models.knowledge import ItemKnowledge

HEAD_LINES = 12
_TITLE_SUFFIX = re.compile(
    r"(记录|报告|表|书|单|批复|证|通知|纪要|方案|计划|图|意见|函|决定|合同|文件|证明|细则|规划|总结|月报|日志|目录|说明)$"
)
_NON_WORD = re.compile(r"[^\u4e00-\u9fffA-Za-z0-9]")

EVIDENCE_FEATURES = (
    "head_cover",        # best coverage of an item name's bigrams by one head line
    "head_top",          # 1 for the item(s) whose name the head covers best (when covered ≥ 80%)
    "head_spec",         # head_cover weighted by the matched name's length (longer = more specific)
    "head_fit",          # how much of the matching head line the name explains
    "body_cover",        # best coverage anywhere in the text (documents also cite other documents)
    "field_frac",        # fraction of the item's field labels present
    "keyword_frac",      # fraction of the item's keywords present
    "authority_hit",     # an issuing body / issuer of the item is named
    "first_title",       # the item's name is the first line of the head that reads as a title
)


def evidence_strength(blocks: np.ndarray) -> np.ndarray:
    """How plainly each text shows some catalogue form, from its evidence blocks (n_texts, n_items,
    features): the best head-line coverage of an item name plus the best share of one item's field
    labels and keywords. ``models.novelty`` reads a low value as no sign of any form."""
    feature = EVIDENCE_FEATURES.index
    fields = blocks[:, :, feature("field_frac")] + blocks[:, :, feature("keyword_frac")]
    return blocks[:, :, feature("head_cover")].max(axis=1) + fields.max(axis=1)


def compact(text: str) -> str:
    """NFKC and only CJK/alphanumerics: the form in which names are compared."""
    return _NON_WORD.sub("", normalize_text(text))


def _bigrams(text: str) -> list[str]:
    t = compact(text)
    if len(t) < 2:
        return [t] if t else []
    return [t[i : i + 2] for i in range(len(t) - 1)]


def head_lines(text: str, n: int = HEAD_LINES) -> list[str]:
    """Lines likely to hold the title: the first ``n`` non-empty ones plus short lines ending like a title."""
    lines = [ln.strip() for ln in normalize_text(text).splitlines() if ln.strip()]
    head = lines[:n]
    head += [ln for ln in lines[n:] if len(compact(ln)) <= 30 and _TITLE_SUFFIX.search(compact(ln))]
    return head[: n * 3]


def item_names(catalogue: Catalogue, knowledge: dict[str, ItemKnowledge], code: str) -> tuple[str, ...]:
    """Every name a document of ``code`` may print: the catalogue's, then the known titles and local names."""
    k = knowledge.get(code)
    return (catalogue[code].name, *(k.names if k else ()))


@dataclass
class CatalogueEvidence:
    """Fitted once from the catalogue and knowledge; ``transform`` maps texts to evidence blocks."""

    codes: list[str]
    name_owner: np.ndarray  # (n_names,) index of the item each name belongs to
    name_len: np.ndarray  # (n_names,) compact length of each name
    vectorizer: CountVectorizer
    names_matrix: sp.csr_matrix  # (n_names, V) binary bigram sets
    terms: list[str]  # every field label, keyword and authority name, compacted
    term_incidence: tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]  # fields, keywords, authority

    @classmethod
    def build(cls, catalogue: Catalogue, knowledge: dict[str, ItemKnowledge]) -> CatalogueEvidence:
        codes = catalogue.codes
        names: list[str] = []
        owner: list[int] = []
        for idx, code in enumerate(codes):
            for name in dict.fromkeys(compact(c) for c in item_names(catalogue, knowledge, code)):
                if len(name) >= 3:
                    names.append(name)
                    owner.append(idx)
        vec = CountVectorizer(analyzer=_bigrams, binary=True, dtype=np.float32)
        matrix = vec.fit_transform(names).tocsr()
        sets = (
            [_terms(knowledge.get(c), "fields", 2) for c in codes],
            [_terms(knowledge.get(c), "keywords", 2) for c in codes],
            [_terms(knowledge.get(c), "authority", 3) for c in codes],
        )
        terms = sorted({t for group in sets for item_terms in group for t in item_terms})
        index = {t: i for i, t in enumerate(terms)}
        return cls(
            codes=codes,
            name_owner=np.asarray(owner),
            name_len=np.asarray([len(n) for n in names], dtype=np.float32),
            vectorizer=vec,
            names_matrix=matrix,
            terms=terms,
            term_incidence=tuple(_incidence(group, index) for group in sets),  # type: ignore[arg-type]
        )

    @property
    def n_features(self) -> int:
        return len(EVIDENCE_FEATURES)

    # Derived from ``names_matrix`` once per process, not per ``transform`` call (the pipeline calls it
    # for every file; a fifth of a one-document call went into these).
    @cached_property
    def _names_t(self) -> sp.csr_matrix:
        """(V, n_names), row-major: the right operand of every line and body product."""
        return self.names_matrix.T.tocsr()

    @cached_property
    def _name_sizes(self) -> np.ndarray:
        """(n_names,) bigrams per name (≥ 1, a divisor)."""
        sizes = np.asarray(self.names_matrix.sum(axis=1)).ravel()
        sizes[sizes == 0] = 1
        return sizes

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Evidence blocks of many texts. Every head line and every body is vectorised in one call
        each: called per document, scikit-learn's per-call overhead was 40% of the time."""
        out = np.zeros((len(texts), len(self.codes), self.n_features), dtype=np.float32)
        if not texts:
            return out
        heads = [head_lines(t) for t in texts]
        flat = [line for head in heads for line in head]
        lines_m = self.vectorizer.transform(flat) if flat else None
        bodies = [compact(t) for t in texts]
        body_cover = (self.vectorizer.transform(bodies) @ self._names_t).toarray() / self._name_sizes[None, :]
        start = 0
        for d, (head, body) in enumerate(zip(heads, bodies)):
            line_m = lines_m[start : start + len(head)] if head and lines_m is not None else None
            start += len(head)
            out[d] = self._one(line_m, body, body_cover[d])
        return out

    def _one(self, line_m: sp.csr_matrix | None, body: str, body_cover: np.ndarray) -> np.ndarray:
        n_items = len(self.codes)
        feats = np.zeros((n_items, self.n_features), dtype=np.float32)
        if line_m is not None:
            overlap = (line_m @ self._names_t).toarray()  # (L, n_names)
            cover = overlap / self._name_sizes[None, :]
            line_sizes = np.asarray(line_m.sum(axis=1)).ravel()
            line_sizes[line_sizes == 0] = 1
            fit = overlap / line_sizes[:, None]
            best_line = cover.argmax(axis=0)
            name_cover = cover.max(axis=0)
            name_fit = fit[best_line, np.arange(cover.shape[1])]
            spec = name_cover * np.minimum(self.name_len, 16) / 16
            head_cover = _max_by_owner(name_cover, self.name_owner, n_items)
            feats[:, 0] = head_cover
            feats[:, 1] = (head_cover >= max(head_cover.max(), 0.8)).astype(np.float32)
            feats[:, 2] = _max_by_owner(spec * (name_cover >= 0.75), self.name_owner, n_items)
            feats[:, 3] = _max_by_owner(name_fit * (name_cover >= 0.75), self.name_owner, n_items)
            # A document cites other documents in its body, but its own title comes first: the first
            # head line that a catalogue name covers and largely explains.
            title_like = (cover >= 0.9) & (fit >= 0.6)
            rows = np.flatnonzero(title_like.any(axis=1))
            if rows.size:
                feats[:, 8] = _max_by_owner(title_like[rows[0]].astype(np.float32), self.name_owner, n_items)
        if body:
            feats[:, 4] = _max_by_owner((body_cover >= 0.999).astype(np.float32), self.name_owner, n_items)
            present = np.fromiter((t in body for t in self.terms), dtype=np.float32, count=len(self.terms))
            fields, keywords, authority = (m @ present for m in self.term_incidence)
            feats[:, 5] = fields
            feats[:, 6] = keywords
            feats[:, 7] = authority > 0
        return feats


def _max_by_owner(values: np.ndarray, owner: np.ndarray, n_items: int) -> np.ndarray:
    out = np.zeros(n_items, dtype=np.float32)
    np.maximum.at(out, owner, values.astype(np.float32))
    return out


def _terms(k: ItemKnowledge | None, attr: str, min_len: int) -> list[str]:
    if k is None:
        return []
    return list(dict.fromkeys(t for t in (compact(x) for x in getattr(k, attr)) if len(t) >= min_len))


def _incidence(item_terms: list[list[str]], index: dict[str, int]) -> sp.csr_matrix:
    """Row-normalised item × term matrix, so a product with a presence vector gives fractions."""
    rows, cols, vals = [], [], []
    for i, terms in enumerate(item_terms):
        for t in terms:
            rows.append(i)
            cols.append(index[t])
            vals.append(1.0 / len(terms))
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(item_terms), len(index)), dtype=np.float32)
