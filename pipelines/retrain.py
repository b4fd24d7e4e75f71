"""``dangan retrain``: reviewers' labels flow back into the model.

A retrain learns from every approved label (reviewers', imports') plus the seed corpus (generated and
hand-written texts), registers the result as a *candidate* (not active), scores the candidate and the
active model on the same held-out documents, and promotes the candidate only if it is not worse:

* **reviewers' held-out** — approved documents no model trained on: the candidate's item accuracy
  must be at least the active model's (the corrections must not be lost);
* **seed test** — the generator's test split (held-out templates and wordings of every catalogue
  item): the candidate's item accuracy may be at most ``SEED_TOLERANCE`` (1 point) lower, so a
  candidate that learnt the corrections by forgetting the rest of the catalogue is refused.

With no active model (or one that cannot be loaded) a candidate that trains is promoted; ``force``
promotes it whatever the scores. No approved labels: nothing is trained; the same labels as the last
retrain, whose outcome still stands: nothing is trained either (a scheduled retrain does not pile up
identical candidates). Each run writes a markdown report and an audit event (``model.retrain``).

The held-out split is sticky: a document is assigned once, by a hash of its sha256 (about
``HELDOUT_SHARE`` of them; an item with two or more labels keeps at least one held out), and the
assignment is kept in the audit events, so the documents held out today stay held out, and a
document a model trained on is never used to judge the next one.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from sqlalchemy import select

from models.catalogue import Catalogue, load_catalogue
from models.classifier import Prediction
from models.evaluation import Metrics, is_abstention, score
from models.registry import ModelRegistry, RegistryError, model_id
from pipelines.db.models import AuditEvent
from pipelines.db.repository import log_event, transaction
from pipelines.db.review import ApprovedLabel, approved_labels
from pipelines.evaluate import as_scored
from pipelines.settings import Settings
from pipelines.storage import Database
from pipelines.training import Split, own_split, seed_splits, train_with_seed

log = logging.getLogger(__name__)

ACTION = "model.retrain"
HELDOUT_SHARE = 0.2  # of newly labelled documents, held out for judging (as ``labelled.stratified_split``)
CALIB_SHARE = 0.15  # of an item's training labels (items with ≥4), for the combiner and thresholds
MAX_REPEAT = 8  # how many times one reviewed document may count in training
SEED_TOLERANCE = 0.01  # how much seed-test item accuracy a candidate may lose (1 point)
_POINTS = f"{SEED_TOLERANCE * 100:g} point"
RULE = (
    "promote when the candidate's item accuracy on the reviewers' held-out documents is at least the active "
    f"model's, and on the seed test no more than {_POINTS} lower; without a usable active model, promote; "
    "`--force` promotes anyway"
)


# ---------------------------------------------------------------------------------------------- types

Decision = Literal["promoted", "forced", "refused", "nothing-to-learn", "unchanged"]


@dataclass(frozen=True)
class LabelSplit:
    """Approved labels divided for one retrain; ``new_*``: documents assigned for the first time."""

    train: list[ApprovedLabel]
    calib: list[ApprovedLabel]
    heldout: list[ApprovedLabel]
    new_heldout: list[str]  # sha256s
    new_trained: list[str]


@dataclass(frozen=True)
class ModelScore:
    """One model on the held-out documents of this retrain."""

    version: str
    model_id: str
    reviewed: Metrics | None  # reviewers' held-out documents (None: none held out yet)
    seed: Metrics  # the generator's test split
    per_item: dict[str, tuple[int, int]]  # reviewers' held-out: item → (right, documents)


@dataclass(frozen=True)
class RetrainOutcome:
    """What a retrain did and why: the report and the audit event say the same."""

    decision: Decision
    reasons: list[str]
    active_before: str | None
    active_after: str | None
    candidate: str | None  # registered version (None: nothing was trained)
    labels_by_source: dict[str, int]
    n_train: int  # reviewers' labels in training (train + calib)
    n_heldout: int  # reviewers' held-out documents
    n_new: int  # labelled documents no earlier retrain had seen
    n_seed_test: int
    active_score: ModelScore | None
    candidate_score: ModelScore | None
    report_path: Path
    seconds: float
    unknown: int = 0  # approved labels whose item code is not in the catalogue (left out)

    @property
    def labels(self) -> int:
        return sum(self.labels_by_source.values())

    @property
    def promoted(self) -> bool:
        return self.decision in ("promoted", "forced")

    @property
    def summary(self) -> str:
        """A few lines for the command line and the flow log."""
        head = f"{self.decision}: " + "; ".join(self.reasons)
        if self.candidate_score is None:
            return head
        lines = [head, (f"labels {self.labels} ({_sources(self.labels_by_source)}) · training {self.n_train} · "
                        f"held out {self.n_heldout} · seed test {self.n_seed_test}")]
        for name, s in (("active", self.active_score), ("candidate", self.candidate_score)):
            if s is not None:
                lines.append(f"{name:<9} {s.version}: reviewers' held-out item {_pct(_acc(s.reviewed))} · "
                             f"seed test item {_pct(s.seed.item_accuracy)}")
        lines.append(f"active model: {self.active_after or 'none'}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- split


def _key(sha256: str) -> float:
    """A document's fixed place in [0, 1): the same on every retrain and every machine."""
    return int.from_bytes(hashlib.sha256(f"dangan-retrain:{sha256}".encode()).digest()[:8], "big") / 2**64


def split_labels(labels: Sequence[ApprovedLabel], heldout_before: set[str], trained_before: set[str]) -> LabelSplit:
    """Held-out / train / calib. A document keeps the side an earlier retrain gave it; a new one is held
    out when its key is below ``HELDOUT_SHARE``, and an item with ≥2 labels and none held out holds out
    its new document of lowest key. Of an item's training labels (≥4), ``CALIB_SHARE`` calibrate."""
    by_item: dict[str, list[ApprovedLabel]] = defaultdict(list)
    for lab in labels:
        by_item[lab.item_code].append(lab)
    train: list[ApprovedLabel] = []
    calib: list[ApprovedLabel] = []
    heldout: list[ApprovedLabel] = []
    new_heldout: list[str] = []
    new_trained: list[str] = []
    for code in sorted(by_item):
        docs = sorted(by_item[code], key=lambda d: (_key(d.sha256), d.sha256))
        new = [d for d in docs if d.sha256 not in heldout_before and d.sha256 not in trained_before]
        held = {d.sha256 for d in docs if d.sha256 in heldout_before}
        held |= {d.sha256 for d in new if _key(d.sha256) < HELDOUT_SHARE}
        if len(docs) >= 2 and not held and new:
            held.add(new[0].sha256)
        rest = [d for d in docs if d.sha256 not in held]
        n_calib = 0 if len(rest) < 4 else max(1, round(len(rest) * CALIB_SHARE))
        heldout += [d for d in docs if d.sha256 in held]
        calib += rest[:n_calib]
        train += rest[n_calib:]
        new_heldout += [d.sha256 for d in new if d.sha256 in held]
        new_trained += [d.sha256 for d in new if d.sha256 not in held]
    return LabelSplit(train, calib, heldout, sorted(new_heldout), sorted(new_trained))


def reviewed_split(labels: Sequence[ApprovedLabel]) -> Split:
    """Reviewers' documents for training, each its own family (``own_split``), so the combiner learns to
    trust what reviewers taught."""
    return own_split(labels, "reviewed")


def upweighted(split: Split, per_item: int, *, repeat: bool = True) -> Split:
    """Reviewed documents made to weigh about as much per item as its ``per_item`` generated ones
    (at most ``MAX_REPEAT`` times as much). Without this, a few corrections drown in the seed corpus:
    measured with 8 documents of each of 4 local forms against the full seed corpus, reviewers'
    held-out item accuracy 1 of 7 right; repeated, 7 of 7.

    ``repeat``: training documents are repeated (copies share the document's family, so cross-fitting
    never scores a document with a model that saw its copy). Calibration documents get a weight
    instead (``repeat=False``): the thresholds' precision bound must count each of them once."""
    counts = Counter(split.labels)
    factors = [max(1, min(MAX_REPEAT, round(per_item / counts[label]))) for label in split.labels]
    if not repeat:
        return Split(list(split.texts), list(split.labels), list(split.groups), [float(r) for r in factors])
    texts: list[str] = []
    labels: list[str] = []
    groups: list[str] = []
    for text, label, group, r in zip(split.texts, split.labels, split.groups, factors, strict=True):
        texts += [text] * r
        labels += [label] * r
        groups += [group] * r
    return Split(texts, labels, groups)


def labels_sha256(labels: Sequence[ApprovedLabel]) -> str:
    """What was learnt from: the (document, item) pairs, in a fixed order."""
    h = hashlib.sha256()
    for pair in sorted(f"{lab.sha256}:{lab.item_code}" for lab in labels):
        h.update(pair.encode())
        h.update(b"\n")
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------- history


def retrain_history(url: str) -> list[dict[str, Any]]:
    """What earlier retrains recorded (their audit events' ``new``), oldest first."""
    t = AuditEvent.__table__
    with Database.open(url).session() as session, transaction(session, write=False):
        return [dict(n or {}) for n in session.scalars(select(t.c.new).where(t.c.action == ACTION).order_by(t.c.id))]


def _record(url: str, *, actor: str, candidate: str | None, new: dict[str, Any], reason: str) -> None:
    entity = int(candidate[1:]) if candidate and candidate[1:].isdigit() else None
    with Database.open(url).session() as session:
        log_event(session, actor=actor, action=ACTION, entity_type="model", entity_id=entity, new=new, reason=reason)


# ---------------------------------------------------------------------------------------------- scoring


def _per_item(catalogue: Catalogue, predicted: Sequence[str], truth: Sequence[str]) -> dict[str, tuple[int, int]]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for p, t in zip(predicted, truth):
        counts[t][0] += int(not is_abstention(p) and catalogue.equivalent(p, t))
        counts[t][1] += 1
    return {k: (v[0], v[1]) for k, v in sorted(counts.items())}


def score_model(registry: ModelRegistry, version: str, reviewed: Split, seed_test: Split, catalogue: Catalogue) -> ModelScore:
    """A registered model on both held-out sets."""
    clf, manifest = registry.load(version)
    preds = clf.predict(reviewed.texts + seed_test.texts)
    return score_predictions(version, model_id(manifest), preds, clf.threshold_.threshold, reviewed, seed_test, catalogue)


def score_predictions(
    version: str, mid: str, predictions: Sequence[Prediction], threshold: float, reviewed: Split, seed_test: Split,
    catalogue: Catalogue,
) -> ModelScore:
    """Scores of a model's predictions on ``reviewed`` followed by ``seed_test``."""
    preds = [as_scored(p) for p in predictions]
    codes = [p.item_code for p in preds]
    conf = [p.confidence for p in preds]
    n = len(reviewed.texts)
    return ModelScore(
        version=version, model_id=mid,
        reviewed=score(catalogue, codes[:n], conf[:n], reviewed.labels, threshold) if n else None,
        seed=score(catalogue, codes[n:], conf[n:], seed_test.labels, threshold),
        per_item=_per_item(catalogue, codes[:n], reviewed.labels),
    )


def decide(active: ModelScore | None, candidate: ModelScore, *, force: bool = False) -> tuple[Decision, list[str]]:
    """The promotion rule (``RULE``): (decision, reasons)."""
    if active is None:
        return "promoted", ["no usable active model: the candidate is the only one"]
    ok, reasons = True, []
    if active.reviewed is not None and candidate.reviewed is not None:
        a, c = active.reviewed.item_accuracy, candidate.reviewed.item_accuracy
        better = c >= a - 1e-9
        ok &= better
        reasons.append(f"reviewers' held-out item accuracy {_pct(c)} {'≥' if better else '<'} active {_pct(a)}")
    else:
        reasons.append("no reviewer documents held out yet: judged on the seed test alone")
    a, c = active.seed.item_accuracy, candidate.seed.item_accuracy
    kept = c >= a - SEED_TOLERANCE - 1e-9
    ok &= kept
    reasons.append(
        f"seed test item accuracy {_pct(c)} vs active {_pct(a)} "
        f"({'within' if kept else 'more than'} {_POINTS} {'of it' if kept else 'lower'})"
    )
    if ok:
        return "promoted", reasons
    if force:
        return "forced", [*reasons, "promoted anyway (--force)"]
    return "refused", reasons


# ---------------------------------------------------------------------------------------------- retrain


def retrain(settings: Settings, *, out: Path | None = None, actor: str = "retrain", force: bool = False) -> RetrainOutcome:
    """Train a candidate on all approved labels (+ the seed corpus), judge it against the active model on
    the same held-out documents, promote it if not worse (``RULE``), write the report, audit the decision."""
    started = time.perf_counter()
    url = settings.db_url
    registry = settings.model_registry()
    active = registry.active_version()
    catalogue = load_catalogue()
    with Database.open(url).session() as session:
        labels = approved_labels(session)
    unknown = [lab for lab in labels if lab.item_code not in catalogue]
    if unknown:
        log.warning("%d approved labels name items not in the catalogue (e.g. %s): left out",
                    len(unknown), unknown[0].item_code)
        labels = [lab for lab in labels if lab.item_code in catalogue]
    history = retrain_history(url)
    heldout_before = {s for h in history for s in h.get("heldout_added", [])}
    trained_before = {s for h in history for s in h.get("trained_added", [])}
    by_source = dict(sorted(Counter(lab.source for lab in labels).items()))
    digest = labels_sha256(labels)
    report = Path(out) if out else settings.root / "reports" / f"retrain-{datetime.now():%Y%m%d-%H%M%S}.md"
    split = split_labels(labels, heldout_before, trained_before)
    n_new = len(split.new_heldout) + len(split.new_trained)

    def finish(
        decision: Decision, reasons: list[str], *, candidate: str | None = None, active_after: str | None = active,
        n_seed_test: int = 0, active_score: ModelScore | None = None, candidate_score: ModelScore | None = None,
    ) -> RetrainOutcome:
        outcome = RetrainOutcome(
            decision=decision, reasons=reasons, active_before=active, active_after=active_after, candidate=candidate,
            labels_by_source=by_source, n_train=len(split.train) + len(split.calib), n_heldout=len(split.heldout),
            n_new=n_new, n_seed_test=n_seed_test, active_score=active_score, candidate_score=candidate_score,
            report_path=report, seconds=round(time.perf_counter() - started, 1), unknown=len(unknown),
        )
        write_report(outcome, report, catalogue)
        _record(url, actor=actor, candidate=outcome.candidate, reason="; ".join(reasons), new={
            "decision": decision, "candidate": outcome.candidate, "active_before": active,
            "active_after": outcome.active_after, "labels": outcome.labels, "labels_by_source": by_source,
            "labels_sha256": digest, "heldout": outcome.n_heldout, "report": str(report),
            "heldout_added": split.new_heldout if outcome.candidate else [],
            "trained_added": split.new_trained if outcome.candidate else [],
            "metrics": {name: _score_json(s) for name, s in (("active", outcome.active_score),
                                                             ("candidate", outcome.candidate_score)) if s},
        })
        log.info("retrain %s: %s", decision, "; ".join(reasons))
        return outcome

    if not labels:
        return finish("nothing-to-learn", ["no approved labels (reviewer or import) yet: nothing trained"])
    # Nothing new since the last retrain, and its outcome still stands: another candidate would be the same.
    last = next((h for h in reversed(history) if h.get("candidate")), None)
    if not force and last is not None and last.get("labels_sha256") == digest and last.get("active_after") == active:
        return finish("unchanged", [(f"the approved labels are those {last['candidate']} was trained on: "
                                     "nothing new to learn (--force retrains)")])

    seed = seed_splits(settings)
    reviewed = reviewed_split(split.heldout)
    trained = train_with_seed(
        upweighted(reviewed_split(split.train), settings.train_per_item),
        upweighted(reviewed_split(split.calib), settings.calib_per_item, repeat=False), reviewed + seed["test"],
        settings,
        seed=seed, activate=False,
        notes=f"retrain: {len(split.train) + len(split.calib)} approved labels ({_sources(by_source)}), "
              f"+ seed corpus; {len(split.heldout)} held out",
    )
    candidate = trained.version
    candidate_score = score_predictions(  # the test ``train_with_seed`` scored: reviewers' held-out, then seed test
        candidate, model_id(registry.manifest(candidate)), trained.predictions, trained.metrics.threshold, reviewed,
        seed["test"], catalogue,
    )
    active_score, reasons = None, []
    if active is not None:
        try:
            active_score = score_model(registry, active, reviewed, seed["test"], catalogue)
        except RegistryError as exc:
            reasons.append(f"the active model {active} cannot be loaded ({exc})")
    decision, why = decide(active_score, candidate_score, force=force)
    if decision in ("promoted", "forced"):
        registry.activate(candidate)
    return finish(
        decision, reasons + why, candidate=candidate, active_after=registry.active_version(),
        n_seed_test=len(seed["test"].texts), active_score=active_score, candidate_score=candidate_score,
    )


# ---------------------------------------------------------------------------------------------- report


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _acc(m: Metrics | None) -> float | None:
    return None if m is None else m.item_accuracy


def _sources(by_source: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in by_source.items()) or "none"


def _score_json(s: ModelScore) -> dict[str, Any]:
    return {"version": s.version, "model_id": s.model_id, "seed_test": s.seed.as_dict(),
            "reviewers_heldout": s.reviewed.as_dict() if s.reviewed else None}


_ROWS: tuple[tuple[str, str, bool], ...] = (
    # label, Metrics attribute, shown as a percentage
    ("documents", "n", False),
    ("item accuracy", "item_accuracy", True),
    ("class accuracy", "class_accuracy", True),
    ("stage accuracy", "stage_accuracy", True),
    ("judged out of catalogue (never right)", "abstained", False),
    ("ECE (item confidence, answered documents)", "ece", False),
    ("auto-filed share", "auto_coverage", True),
    ("auto-filed precision", "auto_precision", True),
)


def _cell(m: Metrics | None, attr: str, pct: bool) -> str:
    if m is None:
        return "–"
    v = getattr(m, attr)
    if v is None:
        return "–"
    return _pct(v) if pct else (f"{v:.3f}" if isinstance(v, float) else str(v))


def _change(a: Metrics | None, c: Metrics | None, attr: str, pct: bool) -> str:
    if a is None or c is None or attr == "n" or getattr(a, attr) is None or getattr(c, attr) is None:
        return ""
    d = getattr(c, attr) - getattr(a, attr)
    return f"{d * 100:+.1f} pts" if pct else f"{d:+d}" if isinstance(d, int) else f"{d:+.3f}"


def render_report(outcome: RetrainOutcome, catalogue: Catalogue) -> str:
    o = outcome
    a, c = o.active_score, o.candidate_score
    lines = [
        f"# Retrain: {o.decision}", "",
        f"*{datetime.now():%Y-%m-%d %H:%M}* · {o.seconds:.0f} s · active model before: {o.active_before or 'none'}"
        f" · after: {o.active_after or 'none'}" + (f" · candidate: {o.candidate}" if o.candidate else ""), "",
        "## Decision", "",
        *[f"- {r}" for r in o.reasons], "",
        f"Rule: {RULE}.", "",
        "## Labels", "",
        f"- approved labels: {o.labels} ({_sources(o.labels_by_source)}); new since the last retrain: {o.n_new}"
        + (f"; left out, item not in the catalogue: {o.unknown}" if o.unknown else ""),
        (f"- used for training: {o.n_train} · held out for judging: {o.n_heldout} (reviewers' held-out; "
         "these stay held out in every later retrain)"),
    ]
    if o.n_seed_test:
        lines.append(f"- seed test: {o.n_seed_test} generated documents of every catalogue item (never trained on)")
    if c is not None:
        names = (f"active {a.version}" if a else "active (none)", f"candidate {c.version}")
        for title, pick in (("Reviewers' held-out documents", lambda s: s.reviewed), ("Seed test", lambda s: s.seed)):
            am, cm = (pick(a) if a else None), pick(c)
            lines += ["", f"## {title}", ""]
            if cm is None:
                lines.append("No reviewer documents are held out yet (each item needs two labels).")
                continue
            lines += [f"| | {names[0]} | {names[1]} | change |", "|---|---:|---:|---:|"]
            lines += [f"| {label} | {_cell(am, attr, pct)} | {_cell(cm, attr, pct)} | {_change(am, cm, attr, pct)} |"
                      for label, attr, pct in _ROWS]
        changed = [
            (code, n, a.per_item.get(code, (0, n))[0] if a else None, right)
            for code, (right, n) in c.per_item.items()
            if a is None or a.per_item.get(code, (0, n))[0] != right
        ]
        lines += ["", "## Items whose held-out accuracy changed (losses first)", ""]
        if not changed:
            lines.append("None." if c.per_item else "No reviewer documents held out.")
        else:
            lines += ["| item | name | documents | active | candidate |", "|---|---|---:|---:|---:|"]
            for code, n, ra, rc in sorted(changed, key=lambda x: ((x[3] - (x[2] or 0)) / x[1], x[0])):
                name = catalogue[code].name if code in catalogue else ""
                lines.append(f"| {code} | {name} | {n} | {'–' if ra is None else f'{ra}/{n}'} | {rc}/{n} |")
    return "\n".join(lines) + "\n"


def write_report(outcome: RetrainOutcome, path: Path, catalogue: Catalogue) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(outcome, catalogue), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------- flow


@flow(name="dangan-retrain", persist_result=False, validate_parameters=False)
def retrain_flow(out: str | None = None, force: bool = False, actor: str = "schedule",
                 settings: Settings | None = None) -> dict[str, Any]:
    """``retrain`` as a Prefect flow (``dangan serve --retrain-cron``); the report becomes an artifact."""
    settings = settings or Settings()
    outcome = retrain(settings, out=Path(out) if out else None, actor=actor, force=force)
    try:
        create_markdown_artifact(
            key="dangan-retrain-report", markdown=outcome.report_path.read_text(encoding="utf-8"),
            description=f"dangan retrain: {outcome.decision}",
        )
    except Exception as exc:  # the report is written; a UI extra must not fail the run
        log.warning("could not publish the retrain report artifact: %s", exc)
    return {"decision": outcome.decision, "reasons": outcome.reasons, "candidate": outcome.candidate,
            "active": outcome.active_after, "report": str(outcome.report_path)}
