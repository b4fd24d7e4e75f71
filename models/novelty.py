"""Out-of-catalogue detection: does this text look like a construction-archive document at all?

A softmax over 331 items always names *some* item, even for a menu or a novel. Before trusting it we
ask how much more likely the document's words are under construction-archive language than under
general Chinese. The general model is jieba's own dictionary (word frequencies from a large general
corpus, shipped in the package); the domain model is the word frequencies of the training corpus
plus the catalogue knowledge. The score is the mean per-word log-likelihood ratio, clipped so a
few rare words cannot dominate. The abstention cut is a low quantile of the scores of in-domain
calibration documents, so it is set on the model's own held-out data, not guessed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import jieba
import numpy as np

from features.segmentation import Segmenter, load_terms, normalize_text

_CLIP = 6.0  # per-word log-ratio bound (nats)
_MIN_WORDS = 3  # below this the text is too short to judge; it is never called out-of-domain
# Catalogue evidence (``models.evidence.evidence_strength``: best head-line coverage of an item name +
# best share of an item's field labels and keywords) below which a text shows no sign of any form.
# Measured: 1,655 hand-written archive texts ≥ 0.85, 1,324 generated held-out ≥ 0.58; a menu, novel,
# news item, recipe and restaurant invoice 0.17–0.39.
EVIDENCE_FLOOR = 0.5


@dataclass(frozen=True)
class NoveltyScore:
    score: float  # mean log-likelihood ratio domain/general; higher = more archive-like
    words: int
    out_of_domain: bool


class DomainNovelty:
    """Fits word statistics on in-domain texts; scores new texts against a general-language model."""

    def __init__(self, quantile: float = 0.005, margin: float = 0.5, mix: float = 0.5) -> None:
        self.mix = mix
        self.quantile = quantile
        self.margin = margin

    def fit(self, segmenter: Segmenter, docs: Iterable[list[str]], calib_docs: Sequence[list[str]]) -> DomainNovelty:
        """``docs``/``calib_docs``: in-domain documents as segmented words (``segmenter.words``)."""
        counts: Counter[str] = Counter()
        for words in docs:
            counts.update(w for w in words if not w.isascii())
        total = sum(counts.values())
        # Only words seen at least twice: bounded size, no one-off noise.
        self.domain_p_ = {w: c / total for w, c in counts.items() if c >= 2}
        self.segmenter_ = segmenter
        # The segmenter's dictionary lifts domain terms to a high frequency so they stay whole; the
        # general model must see their stock frequency instead.
        stock = jieba.Tokenizer()
        stock.initialize()
        overridden = {normalize_text(t) for t in segmenter.extra_terms} | {t for t, _ in load_terms()} | set(counts)
        self.general_freq_ = {w: stock.FREQ.get(w, 0) for w in overridden}
        self.general_total_ = float(stock.total)
        raw = [self._raw_words(w) for w in calib_docs]
        scores = np.asarray([s for s, n in raw if n >= _MIN_WORDS])
        if not len(scores):
            raise ValueError("no calibration text long enough to set the out-of-catalogue threshold")
        # Two anchors: what general Chinese scores on average (jieba's word distribution itself) and
        # the low tail of in-domain documents. The cut sits between them, so documents of a new
        # layout or wording (lower than calibration, still far above general text) are kept.
        self.general_reference_ = self._expected_general(stock)
        self.domain_low_ = float(np.quantile(scores, self.quantile))
        self.threshold_ = self.general_reference_ + self.margin * (self.domain_low_ - self.general_reference_)
        return self

    def _expected_general(self, stock: jieba.Tokenizer) -> float:
        """Mean per-word score of text drawn from jieba's general-language word distribution."""
        total, acc, mass = float(stock.total), 0.0, 0.0
        for w, f in stock.FREQ.items():
            if f <= 0 or w.isascii():
                continue
            g = (f + 1.0) / total
            acc += f * min(_CLIP, math.log((self.mix * self.domain_p_.get(w, 0.0) + (1 - self.mix) * g) / g))
            mass += f
        return acc / mass

    def _raw_words(self, words: list[str]) -> tuple[float, int]:
        freq, stock, total = self.segmenter_._tokenizer.FREQ, self.general_freq_, self.general_total_
        words = [w for w in words if not w.isascii()]
        if not words:
            return 0.0, 0
        s = 0.0
        for w in words:
            g = ((stock[w] if w in stock else freq.get(w, 0)) + 1.0) / total
            # Domain model backs off to general language (a mixture), so a word merely unseen in
            # training costs a fixed log(1 - λ) instead of an unbounded penalty.
            d = self.mix * self.domain_p_.get(w, 0.0) + (1 - self.mix) * g
            s += min(_CLIP, math.log(d / g))
        return s / len(words), len(words)

    def score(self, text: str, evidence: float | None = None) -> NoveltyScore:
        return self.score_words(self.segmenter_.words(text), evidence)

    def score_words(self, words: list[str], evidence: float | None = None) -> NoveltyScore:
        """As ``score``, for text already segmented by the same segmenter.

        Out of domain: below the threshold; or, when the text shows no catalogue evidence
        (``evidence`` < ``EVIDENCE_FLOOR``), below the low tail of in-domain documents itself. Word
        statistics alone leave a gap of ~0.1 between business papers and real archive texts: a
        restaurant invoice scores 0.61 (its 名称, 金额, 税率, 有限公司 are every contract's words), the
        lowest of 1,655 hand-written archive texts 0.72 (a relocation compensation agreement). Those
        texts all name a form or carry its fields; the invoice does neither."""
        value, n = self._raw_words(words)
        cut = self.threshold_
        if evidence is not None and evidence < EVIDENCE_FLOOR:
            cut = max(cut, self.domain_low_)
        return NoveltyScore(value, n, n >= _MIN_WORDS and value < cut)
