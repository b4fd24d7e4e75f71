"""Field-level precision / recall of extracted tags against ground truth.

Conventions (the same for every field):

* A field *predicts* when the extractor returns a non-empty value, and *has truth* when the
  document really prints one. ``precision = correct / predicted`` (how far a filled-in tag can be
  trusted), ``recall = correct / truth present`` (how many printed values we find). Predicting a value
  for a document that prints none is a wrong prediction, never ignored: a tag that invents a project
  name is worse than an empty one.
* Values compare exactly after normalisation: NFKC (full-width → half-width, as OCR mixes them)
  and all whitespace removed (letter-spaced forms, OCR gaps). Nothing fuzzier: a name with one wrong
  character is a wrong tag for search and filing.
* Units are scored per (role, name) pair, so one document with three parties counts three times and a
  right name under the wrong role is wrong. ``unit_names`` scores the names alone, to tell role
  errors from name errors.
* Undefined ratios (nothing predicted, no truth) are ``None``, not 0 or 1, so tables do not flatter.

Pure Python; imports nothing from the extractor beyond the duck-typed shape of ``features.tags.Tags``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

SCALAR_FIELDS = ("project_name", "doc_number", "doc_date", "discipline")
FIELDS = ("project_name", "doc_number", "doc_date", "units", "unit_names", "discipline")
_WS = re.compile(r"\s+")


class TagsLike(Protocol):
    """What ``features.tags.Tags`` provides (kept structural so this module stays import-free)."""

    project_name: str | None
    doc_number: str | None
    doc_date: str | None
    units: tuple[Any, ...]
    discipline: str | None


def normalize_value(value: str | None) -> str:
    """NFKC and no whitespace: the form two values are compared in ("" for missing)."""
    if not value:
        return ""
    return _WS.sub("", unicodedata.normalize("NFKC", value))


@dataclass(frozen=True)
class TagTruth:
    """What a document really prints; ``""`` / empty set when it prints nothing for a field."""

    project_name: str = ""
    doc_number: str = ""
    doc_date: str = ""  # ISO YYYY-MM-DD
    units: frozenset[tuple[str, str]] = frozenset()  # (role, name)
    discipline: str = ""

    @classmethod
    def of(cls, *, project_name: str = "", doc_number: str = "", doc_date: str = "",
           units: Mapping[str, str] | Iterable[tuple[str, str]] = (), discipline: str = "",
           no_discipline: Iterable[str] = ()) -> TagTruth:
        """Build from loose inputs: units as a role → name mapping or pairs; a discipline listed in
        ``no_discipline`` (e.g. a catch-all like 综合) counts as "no specific discipline"."""
        pairs = units.items() if isinstance(units, Mapping) else units
        disc = "" if discipline in set(no_discipline) else discipline
        return cls(project_name or "", doc_number or "", doc_date or "",
                   frozenset((r, n) for r, n in pairs if n), disc or "")


@dataclass(frozen=True)
class FieldScore:
    """Counts for one field; the ratios follow from them."""

    predicted: int = 0
    truth: int = 0  # support: values present in the truth
    correct: int = 0

    def __add__(self, other: FieldScore) -> FieldScore:
        return FieldScore(self.predicted + other.predicted, self.truth + other.truth,
                          self.correct + other.correct)

    @property
    def precision(self) -> float | None:
        return self.correct / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.correct / self.truth if self.truth else None

    @property
    def f1(self) -> float | None:
        # 2·TP / (2·TP + FP + FN) = 2·correct / (predicted + truth): defined whenever either side exists.
        denom = self.predicted + self.truth
        return 2 * self.correct / denom if denom else None

    @property
    def support(self) -> int:
        return self.truth

    def as_dict(self) -> dict[str, float | int | None]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {"precision": r(self.precision), "recall": r(self.recall), "f1": r(self.f1),
                "support": self.truth, "predicted": self.predicted, "correct": self.correct}


@dataclass(frozen=True)
class TagScores:
    """Per-field scores over a set of documents."""

    n_docs: int = 0
    fields: dict[str, FieldScore] = field(default_factory=lambda: {f: FieldScore() for f in FIELDS})

    def __add__(self, other: TagScores) -> TagScores:
        return TagScores(self.n_docs + other.n_docs,
                         {f: self.fields[f] + other.fields[f] for f in FIELDS})

    def __getitem__(self, name: str) -> FieldScore:
        return self.fields[name]

    def as_dict(self) -> dict[str, Any]:
        return {"n_docs": self.n_docs, "fields": {f: s.as_dict() for f, s in self.fields.items()}}


def _scalar(pred: str | None, truth: str) -> FieldScore:
    p, t = normalize_value(pred), normalize_value(truth)
    return FieldScore(int(bool(p)), int(bool(t)), int(bool(p) and p == t))


def _sets(pred: set[Any], truth: set[Any]) -> FieldScore:
    return FieldScore(len(pred), len(truth), len(pred & truth))


def score_one(pred: TagsLike, truth: TagTruth) -> TagScores:
    """Scores of one document (counts 0/1 per scalar field, pair counts for units)."""
    fields = {f: _scalar(getattr(pred, f), getattr(truth, f)) for f in SCALAR_FIELDS}
    p_units = {(normalize_value(u.role), normalize_value(u.name))
               for u in pred.units if normalize_value(u.name)}
    t_units = {(normalize_value(r), normalize_value(n)) for r, n in truth.units if normalize_value(n)}
    fields["units"] = _sets(p_units, t_units)
    fields["unit_names"] = _sets({n for _, n in p_units}, {n for _, n in t_units})
    return TagScores(1, {f: fields[f] for f in FIELDS})


def score_tags(pairs: Iterable[tuple[TagsLike, TagTruth]]) -> TagScores:
    """Scores summed over (prediction, truth) pairs: micro-averaged, so a field's ratios weigh every
    value equally, whatever document it sits in."""
    total = TagScores()
    for pred, truth in pairs:
        total = total + score_one(pred, truth)
    return total


def format_table(scores: TagScores, title: str = "") -> str:
    """A fixed-width P/R/F1 table for terminals and reports."""

    def pct(x: float | None) -> str:
        return "   -  " if x is None else f"{x:6.1%}"

    lines = [f"{title} (n={scores.n_docs})" if title else f"n={scores.n_docs}",
             f"  {'field':<13}{'P':>7}{'R':>7}{'F1':>7}{'support':>9}{'pred':>6}"]
    for name, s in scores.fields.items():
        ratios = f"{pct(s.precision):>7}{pct(s.recall):>7}{pct(s.f1):>7}"
        lines.append(f"  {name:<13}{ratios}{s.truth:>9}{s.predicted:>6}")
    return "\n".join(lines)
