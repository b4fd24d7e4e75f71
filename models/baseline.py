"""The peer baseline: paperless-ngx's document-type classifier, as it would run on our archives.

paperless-ngx (``src/documents/classifier.py``) uses ``CountVectorizer(analyzer="word",
lowercase=True, ngram_range=(1, 2), min_df=0.01)`` with its default regex tokenizer, then
``MLPClassifier(tol=0.01)``. That tokenizer has no notion of Chinese words: a run of CJK characters
between punctuation becomes one "word". Kept here only to be scored beside ours in the benchmarks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.neural_network import MLPClassifier


class PaperlessBaseline:
    def __init__(self, *, min_df: float = 0.01, random_state: int = 0) -> None:
        self.min_df = min_df
        self.random_state = random_state

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> PaperlessBaseline:
        self.vectorizer_ = CountVectorizer(analyzer="word", lowercase=True, ngram_range=(1, 2), min_df=self.min_df)
        X = self.vectorizer_.fit_transform(texts)
        self.model_ = MLPClassifier(tol=0.01, random_state=self.random_state).fit(X, list(labels))
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.model_.predict_proba(self.vectorizer_.transform(texts))

    def predict(self, texts: Sequence[str]) -> list[str]:
        proba = self.predict_proba(texts)
        return [str(c) for c in self.model_.classes_[proba.argmax(axis=1)]]
