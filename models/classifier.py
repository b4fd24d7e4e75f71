"""The archive classifier: a learned text model combined with catalogue evidence, calibrated.

Two parts, fitted on different data:

1. ``text model``: TF-IDF over character 1–3-grams (numbers folded) → a linear SVM, one score per
   item, and a second one per class. It learns wordings from labelled documents. Segmented words
   were dropped from it: on layouts and wordings it never saw they cost 2 points of top-1 accuracy
   (they fit the templates' phrasing); the segmenter still serves novelty, tags and keywords.
2. ``combiner``: a conditional-logit (softmax over items) whose few weights are *shared by all
   items*. Its inputs per (document, item) are the text score and the catalogue evidence of
   ``models.evidence`` (title on the page, fields, keywords, issuing body). Fitted by maximum
   likelihood on a calibration split the text model never saw, so its probabilities are calibrated
   and an item with few training samples still lands when its title is printed.

Stage and class probabilities are sums of item probabilities, so the hierarchy never contradicts
itself. Items with the same printed name (e.g. 工程开工报审表 B2-1 / C3-1) count as one answer.

Routing has three outcomes: ``auto`` (the item is certain enough to file), ``class`` (the class is,
the item is not: filed under its class, item left to a reviewer) and ``review``. Each level has its
own threshold, chosen on the calibration split for the operator's target precision. A document
that does not read like a construction archive at all (``models.novelty``) is never auto-filed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from scipy.optimize import minimize
from scipy.special import expit, log_softmax, softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from features.segmentation import Segmenter
from models.augment import partial_views
from models.catalogue import Catalogue, load_catalogue
from models.evidence import EVIDENCE_FEATURES, CatalogueEvidence, compact, evidence_strength, item_names
from models.knowledge import ItemKnowledge, load_knowledge
from models.novelty import DomainNovelty, NoveltyScore
from models.routing import Route, ThresholdChoice, choose_threshold

# Per-document constants (e.g. "score minus the best score") would cancel out in the softmax, so the
# text model enters as its raw score, its positive part, and indicators of its own top and top-3 choices.
# ``class_score``: a second linear model trained on the 26 classes (more examples per label, so it
# generalises to unseen layouts better than the item model) gives every item its class's score, and
# ``class_top`` marks the items of that model's top class.
# ``text_gap``: the text model's lead over its runner-up, on its top item only (how decisive it is).
COMBINER_FEATURES = (
    "text_score", "text_top", "text_top3", "text_pos", "text_gap", "class_score", "class_top", *EVIDENCE_FEATURES
)
TOP_K = 5


@dataclass(frozen=True)
class Candidate:
    item_code: str
    item_name: str
    confidence: float


@dataclass(frozen=True)
class Prediction:
    """One document's place in the catalogue. ``confidence`` counts same-named items as one answer."""

    item_code: str
    item_name: str
    class_code: str
    class_name: str
    stage: str
    confidence: float
    class_confidence: float
    stage_confidence: float
    candidates: tuple[Candidate, ...]
    route: Route = Route.REVIEW
    out_of_catalogue: bool = False  # the text does not read like a construction-archive document
    domain_score: float = 0.0  # models.novelty score (higher = more archive-like)


TextModels = tuple[LinearSVC, LinearSVC | None]  # item model, class model (None: one class only)


# Weights below this are dropped from the text models. An L2-penalised SVM gives every (item, n-gram)
# pair a weight, ≈340 MB dense for 331 items; 82% of them are under 1e-3. Dropped and stored sparse
# (float32) they take 70 MB, so every worker of every run maps and verifies a fifth of the bytes.
# Measured on 1,655 held-out and hand-written documents: scores move by at most 0.004, and no
# first answer or route changes.
COEF_FLOOR = 1e-3


def _fit_svm(X: sp.csr_matrix, labels: np.ndarray, mask: np.ndarray | None, C: float, class_of: dict[str, str]) -> TextModels:
    """The item and class text models (a module function: worker processes receive only the data)."""
    if mask is not None:
        X, labels = X[mask], labels[mask]
    classes = np.asarray([class_of[c] for c in labels])
    class_model = LinearSVC(C=C, dual=True, max_iter=2000).fit(X, classes) if len(set(classes)) > 1 else None
    item_model = LinearSVC(C=C, dual=True, max_iter=2000).fit(X, labels)
    return _sparse(item_model), (_sparse(class_model) if class_model is not None else None)


def _sparse(model: LinearSVC) -> LinearSVC:
    coef = model.coef_.astype(np.float32)
    coef[np.abs(coef) < COEF_FLOOR] = 0.0
    # Column-major, so that ``coef_.T`` is a CSR matrix without a copy: ``_decision``'s product.
    model.coef_ = sp.csc_matrix(coef)
    return model


def _decision(model: LinearSVC, X: sp.csr_matrix) -> np.ndarray:
    """Scores of every label (columns). The sparse weights (``_sparse``) are applied as CSR × CSR here:
    scikit-learn's ``decision_function`` takes 7× longer on them (0.65 s against 0.09 s for 400 documents)."""
    raw = (X @ model.coef_.T).toarray() + model.intercept_
    return np.hstack([-raw, raw]) if raw.shape[1] == 1 else raw  # two labels: one column


def _segment_chunk(segmenter: Segmenter, texts: Sequence[str]) -> list[list[str]]:
    return [segmenter.words(t) for t in texts]


_DIGITS = re.compile(r"\d+")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def _char_text(text: str) -> str:
    """What the character n-grams read: compact text with every number folded to ``0`` (numbers are
    dates, quantities and serials — they name the project, not the kind of document)."""
    return _DIGITS.sub("0", compact(text))


def domain_terms(catalogue: Catalogue, knowledge: dict[str, ItemKnowledge]) -> list[str]:
    """Words the segmenter keeps whole: item names, titles, local names, fields and keywords."""
    terms: list[str] = []
    for item in catalogue.items:
        terms.append(compact(item.name))
        k = knowledge.get(item.code)
        if k:
            terms += [compact(t) for t in (*k.names, *k.fields, *k.keywords)]
    return [t for t in dict.fromkeys(terms) if 2 <= len(t) <= 20]


class ArchiveClassifier:
    """Classifies document text into GB/T 50328 items.

    Parameters
    ----------
    C : float, default=0.5
        Regularisation of the linear SVM text model.
    l2 : float, default=1e-3
        L2 penalty on the combiner weights (per calibration document).
    max_char_features : int
        Vocabulary cap; it bounds model size and memory.
    partial_share : float, default=0.5
        Share of calibration documents also seen as a partial view (``models.augment``: without the
        lines naming their item, or a window of their lines), so that thresholds hold on pages that
        do not print their title. 0 turns it off.

    Examples
    --------
    >>> clf = ArchiveClassifier().fit(train_texts, train_codes, calib_texts, calib_codes)  # doctest: +SKIP
    >>> clf.predict(["隐蔽工程验收记录 工程名称：…"])[0].item_code  # doctest: +SKIP
    'C5-1'
    """

    def __init__(
        self,
        *,
        C: float = 0.5,
        l2: float = 1e-3,
        max_char_features: int = 300_000,
        target_precision: float = 0.99,
        partial_share: float = 0.5,
        n_jobs: int = 2,
    ) -> None:
        self.partial_share = partial_share
        self.n_jobs = n_jobs
        self.C = C
        self.l2 = l2
        self.max_char_features = max_char_features
        self.target_precision = target_precision

    # ------------------------------------------------------------------------------------ fit
    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        calib_texts: Sequence[str],
        calib_labels: Sequence[str],
        catalogue: Catalogue | None = None,
        knowledge: dict[str, ItemKnowledge] | None = None,
        groups: Sequence[str] | None = None,
        calib_groups: Sequence[str] | None = None,
        calib_weights: Sequence[float] | None = None,
    ) -> ArchiveClassifier:
        """Fit the text model on ``texts`` and the combiner and threshold on ``calib_texts``.

        ``groups`` / ``calib_groups`` name each document's template family (or source). When given,
        calibration documents are scored by a text model that never saw their family (two folds
        of families), so the combiner and threshold learn how the model behaves on unfamiliar
        layouts — which is what real archives are — instead of on its own templates.

        ``calib_weights`` (default 1 each) weigh calibration documents in the combiner's fit — e.g.
        a few reviewed documents against many generated ones — while the thresholds still count
        each document once: copies would be counted as independent evidence by the precision bound.
        """
        catalogue = catalogue or load_catalogue()
        knowledge = knowledge if knowledge is not None else load_knowledge()
        unknown = sorted({c for c in (*labels, *calib_labels) if c not in catalogue})
        if unknown:
            raise ValueError(f"labels not in the catalogue: {unknown[:10]}")
        self.catalogue_ = catalogue
        self.codes_ = catalogue.codes
        self.catalogue_sha256_ = catalogue.sha256
        self.segmenter_ = Segmenter(domain_terms(catalogue, knowledge))
        if self.partial_share > 0:  # untitled pages and excerpts beside the whole documents (models.augment)
            names = {c: item_names(catalogue, knowledge, c) for c in self.codes_}
            views = partial_views(calib_texts, calib_labels, names, share=self.partial_share, seed=len(calib_texts))
            calib_texts = [*calib_texts, *(v.text for v in views)]
            calib_labels = [*calib_labels, *(calib_labels[v.source] for v in views)]
            if calib_weights is not None:
                calib_weights = [*calib_weights, *(calib_weights[v.source] for v in views)]
            if calib_groups is not None:
                calib_groups = [*calib_groups, *(calib_groups[v.source] for v in views)]
        self.char_vectorizer_ = TfidfVectorizer(
            analyzer="char", ngram_range=(1, 3), preprocessor=_char_text, sublinear_tf=True, min_df=2,
            max_features=self.max_char_features, dtype=np.float32,
        )
        words = self._segment(texts)
        calib_words = self._segment(calib_texts)
        X = self.char_vectorizer_.fit_transform(texts)
        labels = np.asarray(labels)
        self.evidence_ = CatalogueEvidence.build(catalogue, knowledge)
        index = {c: i for i, c in enumerate(self.codes_)}
        Xc = self._vectorize(calib_texts)

        # The final text model and (when families are given) the two out-of-family models are
        # independent fits: run them side by side, one per core.
        class_of = {c: catalogue[c].class_code for c in self.codes_}
        folds = []
        if groups is not None and calib_groups is not None:
            folds = self._family_folds(np.asarray(groups), np.asarray(calib_groups))
        fits = Parallel(n_jobs=min(1 + len(folds), self.n_jobs))(
            delayed(_fit_svm)(X, labels, mask, self.C, class_of) for mask in [None, *[m for m, _ in folds]]
        )
        self.text_model_ = fits[0]
        scores = self._scores(self.text_model_, Xc)
        for model, (_, calib_mask) in zip(fits[1:], folds):
            scores[calib_mask] = self._scores(model, Xc[calib_mask])
        F = self._features_from(scores, calib_texts)
        y = np.asarray([index[c] for c in calib_labels])
        sample_weight = None if calib_weights is None else np.asarray(calib_weights, dtype=float)
        self.weights_ = self._fit_combiner(F, y, sample_weight)
        self.feature_names_ = COMBINER_FEATURES

        raw = self._softmax(F)
        self.confidence_map_ = self._fit_confidence_map(raw, y)
        proba = self._recalibrate(raw)
        self.threshold_, self.class_threshold_ = self._routing_choice(proba, y)
        phrases = [self.segmenter_.words(p) for k in knowledge.values() for p in (*k.phrases, *k.titles)]
        self.novelty_ = DomainNovelty().fit(self.segmenter_, words + phrases, calib_words)
        self.calibration_ = {
            "n": len(y), "accuracy": float(self._correct(proba, y).mean()),
            "class_accuracy": float(self._class_correct(proba, y).mean()),
            "novelty_threshold": self.novelty_.threshold_,
        }
        return self

    def _segment(self, texts: Sequence[str]) -> list[list[str]]:
        """Words of many texts; jieba is pure Python, so big corpora are cut on every core."""
        if self.n_jobs <= 1 or len(texts) < 2000:
            return _segment_chunk(self.segmenter_, texts)
        # One chunk per worker: each worker rebuilds the jieba dictionary once (≈1–2 s).
        size = -(-len(texts) // self.n_jobs)
        chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
        parts = Parallel(n_jobs=self.n_jobs)(delayed(_segment_chunk)(self.segmenter_, c) for c in chunks)
        return [w for part in parts for w in part]

    @staticmethod
    def _family_folds(groups: np.ndarray, calib_groups: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(train mask, calib mask) pairs: each half of the families is held out of training once, so
        every calibration document is scored by a text model that never saw its family."""
        families = sorted(set(groups))
        folds = []
        for held in (families[0::2], families[1::2]):
            train_mask = ~np.isin(groups, held)
            calib_mask = np.isin(calib_groups, held)
            if held and train_mask.any() and calib_mask.any():
                folds.append((train_mask, calib_mask))
        return folds

    def _fit_combiner(self, F: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        n, _, d = F.shape
        rows = np.arange(n)
        sw = np.ones(n) if sample_weight is None else sample_weight * (n / sample_weight.sum())

        def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
            U = F @ w
            logp = log_softmax(U, axis=1)
            p = np.exp(logp)
            nll = -(sw @ logp[rows, y]) / n + self.l2 * (w @ w)
            grad = -(sw @ F[rows, y] - np.einsum("n,nk,nkd->d", sw, p, F)) / n + 2 * self.l2 * w
            return float(nll), grad

        w0 = np.zeros(d)
        w0[0] = 1.0
        res = minimize(loss, w0, jac=True, method="L-BFGS-B", bounds=self._combiner_bounds(d))
        return res.x

    @staticmethod
    def _combiner_bounds(d: int) -> list[tuple[float | None, float | None]]:
        """A higher text-model score never lowers an item's probability: the weights of the scores
        (``text_score``, its positive part, ``text_gap``, ``class_score``) are kept ≥ 0.

        Unconstrained, maximum likelihood gave ``text_score`` a negative weight (−0.9): with the
        top-1/top-3 indicators carrying the text model's ranking, the raw score's slope was fitted
        to the calibration documents' noise. A runner-up 1.2 below the top then outscored the top on
        the text model's part of the utility, and a document with no catalogue evidence (a local
        form a reviewer taught) went to its runner-up."""
        monotone = {COMBINER_FEATURES.index(f) for f in ("text_score", "text_pos", "text_gap", "class_score")}
        return [(0.0, None) if i in monotone else (None, None) for i in range(d)]

    # -------------------------------------------------------------------------------- predict
    def _vectorize(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.char_vectorizer_.transform(texts)

    def _scores(self, models: TextModels, X: sp.csr_matrix) -> np.ndarray:
        """(docs, items, 2): item score and the score of the item's class, in catalogue order.
        Items (classes) the model never saw get a score below all others."""
        item_model, class_model = models
        raw = _decision(item_model, X)
        index = {c: i for i, c in enumerate(self.codes_)}
        columns = np.asarray([index[c] for c in item_model.classes_])
        scores = np.zeros((X.shape[0], len(self.codes_), 2), dtype=np.float32)
        scores[:, :, 0] = raw.min(initial=-1.0) - 1.0
        scores[:, columns, 0] = raw
        if class_model is not None:
            raw = _decision(class_model, X)
            padded = np.hstack([raw, np.full((X.shape[0], 1), raw.min(initial=-1.0) - 1.0)])
            where = {c: i for i, c in enumerate(class_model.classes_)}
            scores[:, :, 1] = padded[:, [where.get(self.catalogue_[c].class_code, -1) for c in self.codes_]]
        return scores

    def _combiner_features(self, texts: Sequence[str]) -> np.ndarray:
        return self._features_from(self._scores(self.text_model_, self._vectorize(texts)), texts)

    def _features_from(self, s: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        item, cls = s[:, :, 0], s[:, :, 1]
        top = (item >= item.max(axis=1, keepdims=True)).astype(np.float32)
        ranks = [min(1, item.shape[1] - 1), min(2, item.shape[1] - 1)]  # the runner-up and the third
        second, third = (-np.partition(-item, ranks, axis=1)[:, ranks]).T
        top3 = (item >= third[:, None]).astype(np.float32)
        pos = np.maximum(item, 0.0)
        gap = top * (item - second[:, None])
        cls_top = (cls >= cls.max(axis=1, keepdims=True)).astype(np.float32)
        ev = self.evidence_.transform(texts)
        return np.concatenate([item[..., None], top[..., None], top3[..., None], pos[..., None], gap[..., None],
                               cls[..., None], cls_top[..., None], ev], axis=2)

    def _softmax(self, F: np.ndarray) -> np.ndarray:
        return softmax(F @ self.weights_, axis=1)

    def _top_answer(self, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per document: the top item's index and its group's probability (the answer's confidence)."""
        top = proba.argmax(axis=1)
        return top, self.group_confidence(proba)[np.arange(len(top)), top]

    def _fit_confidence_map(self, proba: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Platt scaling of the answer's confidence, fitted on the calibration documents.

        The softmax spreads mass over many near-miss items, so in the middle range the top answer is
        right more often than its probability says (calibration split: 0.45 → 60% right; held-out:
        0.45 → 75%). One slope and offset on the logit fix that (held-out ECE 0.091 → 0.052) without
        changing any document's rank, so routing and coverage stay as they were."""
        _, conf = self._top_answer(proba)
        correct = self._correct(proba, y)
        if correct.all() or not correct.any():
            return (1.0, 0.0)
        x = _logit(conf)[:, None]
        fit = LogisticRegression(C=100.0).fit(x, correct)
        slope, offset = float(fit.coef_[0, 0]), float(fit.intercept_[0])
        return (slope, offset) if slope > 0 else (1.0, 0.0)

    def _recalibrate(self, proba: np.ndarray) -> np.ndarray:
        """``proba`` with the top answer's group at its Platt-scaled confidence and every other item
        scaled to share the rest, so stage, class and item probabilities stay one distribution."""
        slope, offset = getattr(self, "confidence_map_", (1.0, 0.0))
        if (slope, offset) == (1.0, 0.0) or len(proba) == 0:
            return proba
        groups, _, _ = self._groups()
        top, conf = self._top_answer(proba)
        new = expit(slope * _logit(conf) + offset)
        in_top = groups[None, :] == groups[top][:, None]
        rest = np.where(conf < 1.0, (1.0 - new) / np.maximum(1.0 - conf, 1e-12), 0.0)
        return proba * np.where(in_top, (new / np.maximum(conf, 1e-12))[:, None], rest[:, None])

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Item probabilities, shape (n_docs, n_items) in catalogue order (``codes_``)."""
        self._check_fitted()
        if len(texts) == 0:
            return np.zeros((0, len(self.codes_)))
        return self._proba(texts)

    def _proba(self, texts: Sequence[str]) -> np.ndarray:
        return self._recalibrate(self._softmax(self._combiner_features(texts)))

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        self._check_fitted()
        if not texts:
            return []
        F = self._combiner_features(texts)
        proba = self._recalibrate(self._softmax(F))
        evidence = evidence_strength(F[:, :, -len(EVIDENCE_FEATURES):])  # the combiner's last features
        return [
            self._prediction(row, self.novelty_.score_words(self.segmenter_.words(t), float(e)))
            for row, t, e in zip(proba, texts, evidence)
        ]

    # ------------------------------------------------------------------------ hierarchy & groups
    def _groups(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Index arrays: equivalence group, class and stage of each item."""
        if not hasattr(self, "_group_cache"):
            cat = self.catalogue_
            keys = {k: i for i, k in enumerate(dict.fromkeys(cat[c].equivalence_key for c in self.codes_))}
            classes = {k: i for i, k in enumerate(cat.class_codes)}
            stages = {k: i for i, k in enumerate(cat.stages)}
            self._group_cache = (
                np.asarray([keys[cat[c].equivalence_key] for c in self.codes_]),
                np.asarray([classes[cat[c].class_code] for c in self.codes_]),
                np.asarray([stages[cat[c].stage] for c in self.codes_]),
            )
        return self._group_cache

    def group_confidence(self, proba: np.ndarray) -> np.ndarray:
        """Per item: the probability of its equivalence group (same-named items summed)."""
        groups, _, _ = self._groups()
        sums = np.zeros((proba.shape[0], groups.max() + 1))
        np.add.at(sums.T, groups, proba.T)
        return sums[:, groups]

    def _correct(self, proba: np.ndarray, y: np.ndarray) -> np.ndarray:
        groups, _, _ = self._groups()
        return groups[proba.argmax(axis=1)] == groups[y]

    def _class_correct(self, proba: np.ndarray, y: np.ndarray) -> np.ndarray:
        _, classes, _ = self._groups()
        return self._correct(proba, y) | (classes[proba.argmax(axis=1)] == classes[y])

    def _routing_choice(self, proba: np.ndarray, y: np.ndarray) -> tuple[ThresholdChoice, ThresholdChoice]:
        """Item and class thresholds for the target precision, each on its own confidence.

        The class threshold is chosen on the documents the item threshold leaves out — the ones the
        class route actually sees. Chosen on all documents, the easy auto-filed ones (nearly always
        of the right class) lift its measured precision, and the class route then files its own,
        harder documents below the target (held-out: 97.6% class precision at a 99% target)."""
        _, classes, _ = self._groups()
        top = proba.argmax(axis=1)
        rows = np.arange(len(y))
        item_conf = self.group_confidence(proba)[rows, top]
        class_p = np.zeros((len(y), classes.max() + 1))
        np.add.at(class_p.T, classes, proba.T)
        class_conf = class_p[rows, classes[top]]
        item = choose_threshold(item_conf, self._correct(proba, y), self.target_precision)
        rest = item_conf < item.threshold
        return item, choose_threshold(class_conf[rest], self._class_correct(proba, y)[rest], self.target_precision)

    def route(self, confidence: float, class_confidence: float, out_of_catalogue: bool = False) -> Route:
        if out_of_catalogue:
            return Route.REVIEW
        if confidence >= self.threshold_.threshold:
            return Route.AUTO
        if class_confidence >= self.class_threshold_.threshold:
            return Route.CLASS
        return Route.REVIEW

    def _prediction(self, proba: np.ndarray, novelty: NoveltyScore | None = None) -> Prediction:
        groups, classes, stages = self._groups()
        cat = self.catalogue_
        group_p = np.bincount(groups, weights=proba, minlength=groups.max() + 1)
        class_p = np.bincount(classes, weights=proba, minlength=classes.max() + 1)
        stage_p = np.bincount(stages, weights=proba, minlength=stages.max() + 1)
        # Best group first, and within a group its most likely member (the one the evidence points to).
        order = np.lexsort((-proba, -group_p[groups]))
        candidates: list[Candidate] = []
        seen: set[int] = set()
        for i in order:
            if groups[i] in seen:
                continue
            seen.add(int(groups[i]))
            code = self.codes_[i]
            candidates.append(Candidate(code, cat[code].name, float(group_p[groups[i]])))
            if len(candidates) == TOP_K:
                break
        top = cat[candidates[0].item_code]
        class_conf = float(class_p[classes[order[0]]])
        ood = bool(novelty and novelty.out_of_domain)
        return Prediction(
            item_code=top.code,
            item_name=top.name,
            class_code=top.class_code,
            class_name=top.class_name,
            stage=top.stage,
            confidence=candidates[0].confidence,
            class_confidence=class_conf,
            stage_confidence=float(stage_p[stages[order[0]]]),
            candidates=tuple(candidates),
            route=self.route(candidates[0].confidence, class_conf, ood),
            out_of_catalogue=ood,
            domain_score=novelty.score if novelty else 0.0,
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            raise RuntimeError("ArchiveClassifier is not fitted; call fit() or load one from the registry")
        if getattr(self, "feature_names_", None) != COMBINER_FEATURES or not hasattr(self, "novelty_"):
            raise RuntimeError("this model was trained by another dangan version (evidence features differ): retrain")

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_group_cache", None)
        return state
