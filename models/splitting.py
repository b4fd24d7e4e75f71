"""Multi-document files: find where each document starts, page by page, and classify every part.

A scanned PDF often holds several documents back to back (a 隐蔽工程验收记录 followed by its 检验批
records, a report followed by its 报审表). Like the split mode of Azure Document Intelligence's
custom classifier, :func:`split_document` reports each part with its page range and prediction.

The model
---------
A page can open a document only if its top carries *start evidence* (a candidate page): a heading
naming a catalogue item or one of its known titles / local names (catalogue evidence on the top
lines, numbered chapter headings excluded), another title-like heading (情况说明, 关于…的函), a
编号 / 文号 header, a letterhead, 红头 or 监制 line, a letter's addressee, a report cover's 编制 /
审核 / 批准 block, or "第1页". Continuation pages — page 2 of a report, a table continued without
its title, an appendix — have none and always stay with their document.

For a candidate page ``i`` and a running part that began at page ``a``, a logistic model gives
``P(i starts a new document | a)`` from (see ``FEATURES``):

* title evidence, split by whether the running part already *is* the named item (a repeated header
  or the next record of the same form) or not;
* the document number: the same 编号 as the part's first page (a repeated header) or another one;
* other start cues, continuation cues (续表, 接上页, page numbers ≥ 2) and whether the previous page
  ends like a document (signatures, dates, 此复 …);
* the change of content: ``-log Σ_g P_i(g) Q(g)`` — how unlikely it is, under the classifier's
  item-group distributions, that page ``i`` and the running part (``Q`` = mean of its pages, and
  separately its first page) are the same item.

The segmentation maximising the summed log-probabilities of every candidate's decision (start, or
continue the running part) is found exactly by dynamic programming over candidate pages (O(c²)
vector operations for ``c`` candidates). The weights were fitted with :func:`fit_boundary_model` on
generated multi-document files of the calibration side (training layouts, wordings the text model
never saw) and measured on held-out layouts (``benchmarks/bench_splitting.py``). Each part is then
classified on its pages' joined text; a file found to hold one document gets exactly the prediction
of its whole text.

Cost: one ``predict_proba`` over the pages (only for files of two or more pages), catalogue
evidence on each page's top lines, and one ``predict`` over the parts when a split is found.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from features.segmentation import normalize_text
from models.classifier import ArchiveClassifier, Prediction
from models.evidence import EVIDENCE_FEATURES, compact

PAGE_SEPARATOR = "\n\f\n"  # as features.documents.DocumentText.text joins pages
TOP_LINES = 5  # lines that may hold a document's heading (letterhead, 红头, 文号, title, 编号)
TAIL_LINES = 6  # lines that may hold the end of a document (signatures, date, 此复)
MIN_PAGE_CHARS = 20  # fewer meaningful characters: a blank or separator sheet, never a start
_EPS = 1e-4

_FIRST_TITLE = EVIDENCE_FEATURES.index("first_title")
_HEAD_COVER = EVIDENCE_FEATURES.index("head_cover")
_HEAD_FIT = EVIDENCE_FEATURES.index("head_fit")

_TITLE_END = re.compile(
    r"(记录|报告|表|书|单|批复|证|通知|纪要|方案|计划|图|意见|函|决定|合同|文件|证明|细则|规划|总结|月报|日志|目录|说明|"
    r"请示|汇报|报告书|申请|审批|报审|清单|名册|评定|鉴定|协议)$"
)
# 档号 is left out: it is stamped (归档章) wherever there is room, not printed as the document's header.
_NUMBER_LABEL = (r"(?:编\s*号|表\s*号|证\s*号|单\s*号|资料编号|报告编号|合同编号|委托编号|项目编号|工程编号|文件编号|"
                 r"表式编号|流水号|NO\.)")
_DOC_NO = r"[\u4e00-\u9fff]{1,8}[\[〔【(]\s*\d{4}\s*[\]〕】)]\s*\d+\s*号"  # 文号: 沪建〔2020〕12号
_NUMBER_HEAD = re.compile(rf"{_NUMBER_LABEL}\s*[:=]|{_NUMBER_LABEL}\s+[^\s:]*\d|\(\s*编\s*号\s*\)|{_DOC_NO}", re.IGNORECASE)
_NUMBER_VALUE = re.compile(
    rf"{_NUMBER_LABEL}\s*[:=]?\s*([^\s:,;|｜，；、]{{2,24}})|([^\s:,;|｜，；、]{{2,24}})\s*\(\s*编\s*号\s*\)|({_DOC_NO})",
    re.IGNORECASE,
)
_COVER = re.compile(r"编制单位|编\s*制\s*(人|:)|审\s*核\s*(人|:).*批\s*准|批\s*准\s*(人|:)")
_ORG_HEAD = re.compile(
    r"(公司|集团|设计院|研究院|院|所|中心|站|局|委员会|办公室|厅|政府|文件|监制|项目经理部|项目部|监理部|平台|统一用表|"
    r"验收资料|中华人民共和国)$"
)
_ENUMERATED = re.compile(r"^(\d+(\.\d+)*\s|\d+(\.\d+)+|第[一二三四五六七八九十百\d]+[章节条部分]|[一二三四五六七八九十]+[、.]|\(\s*[一二三四五六七八九十\d]+\s*\))")
_ADDRESSEE = re.compile(r"^(致\s*[:(]?|.{2,30}(单位|公司|集团|院|所|中心|站|局|委员会|办公室|部|厅|政府|机构)(\(.{0,12}\))?\s*:$)")
_PAGE_ONE = re.compile(r"第\s*[1一]\s*页|共\s*\d+\s*页\s*第\s*1\s*页|^-\s*1\s*-$|^1\s*/\s*\d+$", re.MULTILINE)
_PAGE_K = re.compile(r"第\s*(?:[2-9]|[1-9]\d+)\s*页|^-\s*(?:[2-9]|[1-9]\d+)\s*-$|^(?:[2-9]|[1-9]\d+)\s*/\s*\d+$",
                     re.MULTILINE)
_CONTINUED = re.compile(r"续\s*表|续上表|接上页|续\s*页|^\s*续|\(\s*续\s*表?\s*\)")
_ENDS = re.compile(
    r"签\s*字|签\s*章|签\s*名|盖\s*章|\(\s*公?\s*章\s*\)|日\s*期|年\s*月\s*日|\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|"
    r"[〇一二三四五六七八九零]{4}年|\d{4}[-./]\d{1,2}[-./]\d{1,2}|此复|特此|请批示|请知悉|请审阅|负责人|监理工程师|审\s*核|"
    r"批\s*准|记录人|填表人|印发|抄送"
)

FEATURES = (
    "title_new",  # the top names an item the running part is not
    "title_same",  # the top names an item the running part already is (repeated header / next record)
    "title_strong",  # that name is the whole heading line (evidence ``first_title``)
    "generic_title",  # a short title-like heading naming no catalogue item (情况说明, 关于…的函)
    "number_head",  # 编号 / 文号 / 报告编号 … header at the top
    "number_same",  # it prints the same document number as the running part's first page
    "number_diff",  # both print document numbers, and they differ
    "org_head",  # letterhead, 红头 or 监制 line at the top
    "addressee",  # a letter's addressee line (致：…, XX公司：) at the top
    "cover",  # a report cover's 编制单位 / 编制 · 审核 · 批准 lines at the top
    "page_one",  # 第1页 printed on the page
    "continued",  # 续表 / 接上页 / (续) at the top
    "page_k",  # a page number ≥ 2 printed on the page
    "prev_ends",  # the previous page ends like a document (signatures, date, 此复 …)
    "change_part",  # -log P(same item) vs. the running part's pages, scaled to [0, 1]
    "change_first",  # the same against the running part's first page
    "page_conf",  # the page's own top item-group probability
    "body",  # amount of text on the page, min(chars, 300) / 300 (a stray stamp or boilerplate page is short)
    "title_new_x_change",
    "prev_ends_x_title_same",
    "prev_ends_x_change",
)


@dataclass(frozen=True)
class DocumentPart:
    """One document found in a file: 1-based inclusive page range and its classification.

    ``start_probability`` is the boundary model's probability that a document starts on
    ``first_page`` (1.0 for the first part).
    """

    first_page: int
    last_page: int
    prediction: Prediction
    start_probability: float = 1.0

    @property
    def page_count(self) -> int:
        return self.last_page - self.first_page + 1


@dataclass(frozen=True)
class BoundaryModel:
    """Logistic weights over ``FEATURES``; ``fit_boundary_model`` refits them."""

    weights: tuple[float, ...]
    bias: float

    def __post_init__(self) -> None:
        if len(self.weights) != len(FEATURES):
            raise ValueError(f"expected {len(FEATURES)} weights, got {len(self.weights)}")

    def probability(self, X: np.ndarray) -> np.ndarray:
        z = X @ np.asarray(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


#: Fitted by ``benchmarks/bench_splitting.py --fit 400`` on generated calibration-side files (seed model).
DEFAULT_MODEL = BoundaryModel(
    weights=(0.4159, -0.1181, 0.1177, 0.8112, 3.0072, -1.0727, 1.9657, 1.3485, 0.4794, 1.6865, 0.5076, -2.1739,
             -1.0016, 0.1458, 1.0035, 1.2959, 0.791, 2.2029, 0.952, 0.5942, 0.3329),
    bias=-5.4503,
)


@dataclass(frozen=True)
class PageCues:
    """What a page shows independently of any segmentation. ``titles`` marks item groups."""

    chars: int
    titles: np.ndarray  # (n_groups,) bool: groups whose name heads the page
    strong_title: bool
    generic_title: bool
    number_head: bool
    numbers: frozenset[str]  # document numbers printed at the top
    org_head: bool
    addressee: bool
    cover: bool
    page_one: bool
    continued: bool
    page_k: bool
    ends: bool

    @property
    def has_title(self) -> bool:
        return bool(self.titles.any())

    @property
    def candidate(self) -> bool:
        """May this page open a document? Only with start evidence at its top."""
        return self.chars >= MIN_PAGE_CHARS and (
            self.has_title or self.generic_title or self.number_head or self.org_head or self.addressee
            or self.cover or self.page_one
        )


_CUE_COLUMNS = ("strong_title", "generic_title", "number_head", "org_head", "addressee", "cover", "page_one",
                "continued", "page_k", "ends", "chars")


@dataclass(frozen=True)
class PageEvidence:
    """Everything the split decision needs about a file's pages (computed once per file)."""

    groups: np.ndarray  # (n_pages, n_groups) item-group probabilities of each page on its own
    cues: tuple[PageCues, ...]

    @property
    def n_pages(self) -> int:
        return len(self.cues)

    @cached_property
    def arrays(self) -> dict[str, np.ndarray]:
        """Per-page cue columns, title matrix and prefix sums of the page distributions."""
        out = {name: np.asarray([float(getattr(c, name)) for c in self.cues]) for name in _CUE_COLUMNS}
        out["titles"] = np.stack([c.titles for c in self.cues]).astype(float)
        weight = (out["chars"] >= MIN_PAGE_CHARS).astype(float)  # blank pages say nothing about the part
        out["weight"] = weight
        out["cum"] = np.vstack([np.zeros(self.groups.shape[1]), np.cumsum(self.groups * weight[:, None], axis=0)])
        out["cnt"] = np.concatenate([[0.0], np.cumsum(weight)])
        return out


# --------------------------------------------------------------------------------------- evidence
def _group_index(clf: ArchiveClassifier) -> tuple[np.ndarray, int]:
    """Equivalence group (same printed name) of each item in ``clf.codes_`` order."""
    cat = clf.catalogue_
    keys: dict[str, int] = {}
    idx = np.asarray([keys.setdefault(cat[c].equivalence_key, len(keys)) for c in clf.codes_])
    return idx, len(keys)


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in normalize_text(text).splitlines() if ln.strip()]


def heading_lines(lines: list[str]) -> list[str]:
    """Top lines that could be a document's heading: not a numbered chapter or clause (1 工程概况,
    二、…) and not a letter's addressee line, which name items without being titles."""
    return [ln for ln in lines[:TOP_LINES] if not _ENUMERATED.match(ln) and not _ADDRESSEE.match(ln)]


def _row(line: str) -> bool:
    """Three cells or more (业主单位 XX 施工企业 XX): a table row, not a heading. Letter-spaced
    headings (工 程 名 称) have one-character tokens."""
    return sum(len(tok) >= 2 for tok in line.split()) >= 3


def _title_like(line: str) -> bool:
    """A heading that reads as a document title (情况说明, 关于…的函, …工作汇报): short, no sentence
    punctuation, not a table row, not an appendix heading (附件 / 附表 belong to their document)."""
    line = re.sub(r"^流程标题\s*:\s*", "", line)
    c = compact(line)
    if not 4 <= len(c) <= 30 or c.startswith("附") or re.search(r"[。,;:!?]", line):
        return False
    if _row(line):
        return False
    return bool(_TITLE_END.search(c) or c.startswith("关于"))


def _numbers(lines: list[str]) -> frozenset[str]:
    found = set()
    for ln in lines:
        for m in _NUMBER_VALUE.finditer(ln):
            value = compact(next(g for g in m.groups() if g)).upper()
            if len(value) >= 2 and any(ch.isdigit() for ch in value):  # numbers have digits; labels do not
                found.add(value)
    return frozenset(found)


def _cues(lines: list[str], titles: np.ndarray, strong: bool) -> PageCues:
    top = lines[:TOP_LINES]
    tail = lines[-TAIL_LINES:]
    chars = sum(len(compact(ln)) for ln in lines)
    # A letterhead / 红头 / 监制 line names an organisation and nothing else (no "label: value").
    org_lines = [ln for ln in top[:2]
                 if ":" not in ln and len(compact(ln)) <= 30 and not _row(ln) and _ORG_HEAD.search(compact(ln))]
    heads = [ln for ln in heading_lines(lines) if ln not in org_lines][:3]
    text = "\n".join(lines)
    return PageCues(
        chars=chars,
        titles=titles,
        strong_title=strong,
        generic_title=any(_title_like(ln) for ln in heads) and not titles.any(),
        number_head=any(_NUMBER_HEAD.search(ln) for ln in top),
        numbers=_numbers(top),
        org_head=bool(org_lines),
        addressee=any(_ADDRESSEE.match(ln) for ln in top),
        cover=any(_COVER.search(ln) for ln in top),
        page_one=bool(_PAGE_ONE.search(text)),
        continued=any(_CONTINUED.search(ln) for ln in lines[:3]),
        page_k=bool(_PAGE_K.search(text)),
        ends=any(_ENDS.search(ln) for ln in tail),
    )


def page_evidence(clf: ArchiveClassifier, page_texts: Sequence[str]) -> PageEvidence:
    """Per-page classification (one ``predict_proba`` batch) and start / continuation cues."""
    group_of, n_groups = _group_index(clf)
    proba = clf.predict_proba(list(page_texts))
    groups = np.zeros((len(page_texts), n_groups))
    np.add.at(groups.T, group_of, proba.T)
    lines = [_lines(t) for t in page_texts]
    # Catalogue evidence on the heading lines only: which item (name, known title, local name) heads the page.
    ev = clf.evidence_.transform(["\n".join(heading_lines(ls)) for ls in lines])
    cues = []
    for p, ls in enumerate(lines):
        named_items = (ev[p, :, _HEAD_COVER] >= 0.9) & (ev[p, :, _HEAD_FIT] >= 0.35)
        named = np.zeros(n_groups, dtype=bool)
        named[group_of[named_items]] = True
        cues.append(_cues(ls, named, bool(ev[p, :, _FIRST_TITLE].max(initial=0) > 0)))
    return PageEvidence(groups=groups, cues=tuple(cues))


# ------------------------------------------------------------------------------------- features
def _change(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """-log P(same group) under independent page/part distributions, scaled to [0, 1]."""
    same = (p * q).sum(axis=-1)
    return np.clip(-np.log(np.maximum(same, _EPS)) / -math.log(_EPS), 0.0, 1.0)


def transition_features(ev: PageEvidence, a: int, pages: np.ndarray) -> np.ndarray:
    """Features (len(pages), len(FEATURES)) for each page in ``pages`` (all > ``a``, 0-based)
    opening a document while the running part began at page ``a``."""
    arr = ev.arrays
    G = ev.groups
    pages = np.asarray(pages, dtype=int)
    # Q: mean distribution of the running part's pages a..i-1 (its first page counts even when blank).
    extra = 1.0 - arr["weight"][a]
    Q = (arr["cum"][pages] - arr["cum"][a] + extra * G[a]) / np.maximum(arr["cnt"][pages] - arr["cnt"][a] + extra, 1.0)[:, None]
    Gi = G[pages]
    T = arr["titles"][pages]
    has_title = T.any(axis=1).astype(float)
    repeat = (T @ arr["titles"][a] > 0).astype(float)  # the part's own heading printed again
    same = np.maximum(np.minimum((T * Q).sum(axis=1), 1.0), repeat)
    change_part = _change(Gi, Q)
    change_first = _change(Gi, G[a][None, :])
    prev_ends = arr["ends"][pages - 1]
    own = ev.cues[a].numbers
    number_same = np.asarray([float(bool(own & ev.cues[i].numbers)) for i in pages])
    number_diff = np.asarray([float(bool(own and ev.cues[i].numbers and not own & ev.cues[i].numbers)) for i in pages])
    title_new = has_title * (1.0 - same)
    title_same = has_title * same
    cols = {
        "title_new": title_new,
        "title_same": title_same,
        "title_strong": arr["strong_title"][pages],
        "generic_title": arr["generic_title"][pages],
        "number_head": arr["number_head"][pages],
        "number_same": number_same,
        "number_diff": number_diff,
        "org_head": arr["org_head"][pages],
        "addressee": arr["addressee"][pages],
        "cover": arr["cover"][pages],
        "page_one": arr["page_one"][pages],
        "continued": arr["continued"][pages],
        "page_k": arr["page_k"][pages],
        "prev_ends": prev_ends,
        "change_part": change_part,
        "change_first": change_first,
        "page_conf": Gi.max(axis=1),
        "body": np.minimum(arr["chars"][pages], 300.0) / 300.0,
        "title_new_x_change": title_new * change_part,
        "prev_ends_x_title_same": prev_ends * title_same,
        "prev_ends_x_change": prev_ends * change_part,
    }
    return np.stack([cols[f] for f in FEATURES], axis=1)


# ------------------------------------------------------------------------------------- decision
def segment(ev: PageEvidence, model: BoundaryModel = DEFAULT_MODEL) -> list[tuple[int, float]]:
    """Best segmentation: the 0-based first page of each part and its start probability.

    Exact dynamic programme over candidate pages: the score of a segmentation is the sum, over every
    candidate page, of log P(start | running part) where it opens a part and log P(continue) where
    it does not; pages without start evidence always continue.
    """
    n = ev.n_pages
    cands = np.asarray([i for i in range(1, n) if ev.cues[i].candidate], dtype=int)
    if cands.size == 0:
        return [(0, 1.0)]
    best = {0: 0.0}
    back: dict[int, tuple[int, float]] = {}
    final: dict[int, float] = {}
    for a in [0, *cands.tolist()]:
        if a not in best:
            continue
        later = cands[cands > a]
        if later.size == 0:
            final[a] = best[a]
            continue
        p = np.clip(model.probability(transition_features(ev, a, later)), 1e-9, 1 - 1e-9)
        log_stay = np.log1p(-p)
        before = np.concatenate([[0.0], np.cumsum(log_stay)[:-1]])  # continuations before each candidate
        start_scores = best[a] + before + np.log(p)
        for i, s, pi in zip(later.tolist(), start_scores.tolist(), p.tolist()):
            if s > best.get(i, -math.inf):
                best[i] = s
                back[i] = (a, pi)
        final[a] = best[a] + float(log_stay.sum())
    a = max(final, key=final.__getitem__)
    starts: list[tuple[int, float]] = []
    while a in back:
        prev, pa = back[a]
        starts.append((a, pa))
        a = prev
    starts.append((0, 1.0))
    return starts[::-1]


def split_document(
    clf: ArchiveClassifier,
    page_texts: Sequence[str],
    *,
    whole: Prediction | None = None,
    model: BoundaryModel = DEFAULT_MODEL,
) -> list[DocumentPart]:
    """Split a file's pages into documents and classify each.

    Parameters
    ----------
    clf : ArchiveClassifier
        A fitted classifier.
    page_texts : sequence of str
        Text of each page in order (``[p.text for p in DocumentText.pages]``).
    whole : Prediction, optional
        The prediction already made on the whole text (pages joined by ``PAGE_SEPARATOR``, as
        ``DocumentText.text``); returned as-is when the file holds one document, so ordinary files
        cost nothing extra beyond the page pass.
    model : BoundaryModel
        Boundary weights (default: fitted on generated data).

    Returns
    -------
    list of DocumentPart
        At least one; page ranges are 1-based, inclusive, contiguous and cover every page. A single
        part carries exactly the whole-text prediction.
    """
    texts = list(page_texts)
    if not texts:
        raise ValueError("no pages to split")
    starts = [(0, 1.0)] if len(texts) < 2 else segment(page_evidence(clf, texts), model)
    bounds = [(s, starts[k + 1][0] - 1 if k + 1 < len(starts) else len(texts) - 1, p)
              for k, (s, p) in enumerate(starts)]
    if len(bounds) == 1:
        pred = whole if whole is not None else clf.predict([PAGE_SEPARATOR.join(texts)])[0]
        return [DocumentPart(1, len(texts), pred)]
    preds = clf.predict([PAGE_SEPARATOR.join(texts[a : b + 1]) for a, b, _ in bounds])
    return [DocumentPart(a + 1, b + 1, pred, float(p)) for (a, b, p), pred in zip(bounds, preds)]


# ------------------------------------------------------------------------------------------ fit
def training_examples(ev: PageEvidence, first_pages: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of every candidate decision under the true segmentation.

    ``first_pages`` are the 1-based first pages of the true parts. True starts without start
    evidence cannot be learned (they are missed by design) and are left out.
    """
    starts = sorted({p - 1 for p in first_pages} | {0})
    ends = [*starts[1:], ev.n_pages]
    X: list[np.ndarray] = []
    y: list[np.ndarray] = []
    for a, nxt in zip(starts, ends):
        pages = [i for i in range(a + 1, min(nxt + 1, ev.n_pages)) if ev.cues[i].candidate]
        if not pages:
            continue
        X.append(transition_features(ev, a, np.asarray(pages)))
        y.append(np.asarray([i == nxt for i in pages], dtype=int))
    if not X:
        return np.zeros((0, len(FEATURES))), np.zeros(0, dtype=int)
    return np.vstack(X), np.concatenate(y)


def fit_boundary_model(examples: Sequence[tuple[PageEvidence, Sequence[int]]], *, C: float = 1.0) -> BoundaryModel:
    """Maximum-likelihood (L2-regularised) boundary weights from files with known part starts."""
    from sklearn.linear_model import LogisticRegression

    pairs = [training_examples(ev, fp) for ev, fp in examples]
    X = np.vstack([x for x, _ in pairs])
    y = np.concatenate([t for _, t in pairs])
    if len(set(y.tolist())) < 2:
        raise ValueError("need both boundaries and continuations to fit")
    lr = LogisticRegression(C=C, max_iter=2000).fit(X, y)
    return BoundaryModel(weights=tuple(round(float(w), 4) for w in lr.coef_[0]), bias=round(float(lr.intercept_[0]), 4))
