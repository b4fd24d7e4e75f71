"""An evaluation a person can read: metrics JSON, a per-class table, a confusion matrix and plots.

``write_evaluation_report`` scores predictions with ``models.evaluation`` and writes, into one
folder, each file atomically (a temporary file renamed into place; ``report.md`` last):

    metrics.json           everything measured (headline, per level, curves, per class, baselines)
    per_class.csv          one row per catalogue class (UTF-8 with BOM, so Excel shows the Chinese)
    confusion_matrix.csv   true class × predicted class (+ abstentions), same encoding
    confusion_matrix.png
    risk_coverage.png      precision against the share auto-filed, item and class, thresholds marked
    reliability.png        reliability diagrams of the item, class and stage probabilities
    report.md              headline numbers, linking the rest

Plots are drawn with matplotlib's Agg canvas directly (no pyplot, no global backend switch), with a
CJK font when one is installed (class names in the labels) and class codes alone otherwise.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from models.catalogue import Catalogue
from models.evaluation import (
    LEVELS,
    Evaluation,
    Metrics,
    OperatingPoint,
    PredictionLike,
    evaluate,
    evaluate_predictions,
)

# Preferred CJK families, best first; any other font fontconfig lists for Chinese comes after.
CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "Noto Sans CJK JP",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "AR PL UMing CN", "AR PL UKai CN",
    "SimHei", "Microsoft YaHei", "PingFang SC",
)
_PROBE = "档案工程验收"  # a font must draw these to label the plots in Chinese

FILES = {
    "metrics": "metrics.json",
    "per_class": "per_class.csv",
    "confusion_csv": "confusion_matrix.csv",
    "confusion_png": "confusion_matrix.png",
    "risk_coverage": "risk_coverage.png",
    "reliability": "reliability.png",
    "report": "report.md",
}

Baseline = tuple[Sequence[str | None], Sequence[float]]  # (predicted item codes, their confidences)


@dataclass(frozen=True, eq=False)
class EvaluationReport:
    out_dir: Path
    report_path: Path
    metrics_path: Path
    per_class_path: Path
    confusion_csv_path: Path
    confusion_png_path: Path
    risk_coverage_path: Path
    reliability_path: Path
    metrics: Metrics  # headline numbers at the model's item threshold
    evaluation: Evaluation
    baselines: dict[str, Evaluation] = field(default_factory=dict)
    summary: str = ""  # a few lines for a terminal
    cjk_font: str | None = None  # font family used for Chinese labels (None: class codes only)

    @property
    def files(self) -> dict[str, Path]:
        return {
            "report": self.report_path, "metrics": self.metrics_path, "per_class": self.per_class_path,
            "confusion_csv": self.confusion_csv_path, "confusion_png": self.confusion_png_path,
            "risk_coverage": self.risk_coverage_path, "reliability": self.reliability_path,
        }


# --------------------------------------------------------------------------------- fonts
def _draws(path: str, text: str = _PROBE) -> bool:
    from matplotlib.ft2font import FT2Font

    try:
        font = FT2Font(path)
        return all(font.get_char_index(ord(ch)) for ch in text)
    except (OSError, RuntimeError, ValueError):  # unreadable or unsupported font file
        return False


@cache
def cjk_font() -> str | None:
    """Family name of an installed font that draws Chinese, registered with matplotlib; else None."""
    from matplotlib import font_manager as fm

    by_name: dict[str, str] = {}
    for f in fm.fontManager.ttflist:
        by_name.setdefault(f.name, f.fname)
    for name in CJK_FAMILIES:
        if name in by_name and _draws(by_name[name]):
            return name
    # Fonts installed after matplotlib built its cache, or families not in the list above.
    try:
        listed = subprocess.run(
            ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for path in sorted({line.split(":")[0].strip() for line in listed.splitlines() if line.strip()}):
        if not path.lower().endswith((".ttf", ".otf", ".ttc")) or not _draws(path):
            continue
        try:
            fm.fontManager.addfont(path)
            return fm.FontProperties(fname=path).get_name()
        except (OSError, RuntimeError, ValueError):  # try the next font
            continue
    return None


def _rc(font: str | None) -> dict[str, Any]:
    rc: dict[str, Any] = {"axes.unicode_minus": False, "figure.dpi": 100, "savefig.dpi": 130}
    if font:  # a family list: glyphs the CJK font lacks (−, ≥, …) fall back to DejaVu Sans
        rc["font.family"] = [font, "DejaVu Sans"]
    return rc


@contextmanager
def _plotting(font: str | None) -> Iterator[None]:
    """matplotlib settings for the report's figures, and quiet about CJK fonts of a single weight."""
    from matplotlib import rc_context

    fm_log = logging.getLogger("matplotlib.font_manager")
    level = fm_log.level
    fm_log.setLevel(logging.ERROR)
    try:
        with rc_context(_rc(font)):
            yield
    finally:
        fm_log.setLevel(level)


# ---------------------------------------------------------------------------- file writing
def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    _atomic(path, lambda tmp: tmp.write_text(text, encoding=encoding, newline=""))


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    for row in rows:
        w.writerow(["" if v is None else (round(v, 4) if isinstance(v, float) else v) for v in row])
    return buf.getvalue()


def _save_figure(fig: Any, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    _atomic(path, lambda tmp: fig.savefig(tmp, format="png", bbox_inches="tight"))


# ---------------------------------------------------------------------------------- plots
_COLOURS = {"item": "#1f77b4", "class": "#ff7f0e", "stage": "#2ca02c"}
_BASELINE_COLOURS = ("#7f7f7f", "#9467bd", "#8c564b", "#e377c2")


def plot_risk_coverage(
    ev: Evaluation, baselines: Mapping[str, Evaluation], path: Path, *, title: str = "", model: str = "dangan"
) -> None:
    """Precision of the auto-filed against coverage: the whole curve, and zoomed on the target."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 5.5))
    full, zoom = fig.subplots(1, 2, gridspec_kw={"width_ratios": (1, 1), "wspace": 0.18})
    lows = [ev.target_precision]
    for ax in (full, zoom):
        labelled = ax is full
        for level in ("item", "class"):
            c = ev.curves[level]
            if len(c):
                ax.plot(c.coverage, c.precision, color=_COLOURS[level], lw=1.8,
                        label=f"{model}: {level}" if labelled else None)
                lows.append(float(c.precision[c.n_auto >= min(10, c.n_auto[-1])].min()))
            pt = ev.at_threshold.get(level)
            if pt is not None and pt.precision is not None:
                ax.plot(pt.coverage, pt.precision, "o", ms=9, mfc="white", mec=_COLOURS[level], mew=2,
                        label=f"{level}: model threshold {pt.threshold:.3f} → coverage {pt.coverage:.1%}"
                        if labelled else None)
            tgt = ev.at_target[level]
            if tgt.precision is not None:
                ax.plot(tgt.coverage, tgt.precision, "^", ms=8, color=_COLOURS[level],
                        label=f"{level}: {ev.target_precision:.0%} precision buys {tgt.coverage:.1%} here"
                        if labelled else None)
        for (name, b), colour in zip(baselines.items(), _BASELINE_COLOURS):
            c = b.curves["item"]
            if len(c):
                ax.plot(c.coverage, c.precision, "--", color=colour, lw=1.4, label=f"{name}: item" if labelled else None)
                lows.append(float(c.precision[c.n_auto >= min(10, c.n_auto[-1])].min()))
        ax.axhline(ev.target_precision, color="#d62728", ls=":", lw=1.2,
                   label=f"target precision {ev.target_precision:.0%}" if labelled else None)
        ax.set_xlim(0, 1.0)
        ax.set_xlabel("coverage (share of all documents auto-filed)")
        ax.grid(alpha=0.3)
    full.set_ylim(max(0.0, min(lows) - 0.03), 1.005)
    full.set_ylabel("precision of the auto-filed (1 − risk)")
    full.set_title(f"Risk–coverage{' · ' + title if title else ''} (n={ev.n})", fontsize=11)
    full.legend(loc="lower left", fontsize=8)
    span = max(0.02, 1.0 - ev.target_precision)
    zoom.set_ylim(max(0.0, ev.target_precision - 3 * span), 1.0 + span / 4)
    zoom.set_title(f"near the target ({ev.target_precision:.0%})", fontsize=11)
    _save_figure(fig, path)


def plot_reliability(ev: Evaluation, path: Path, *, title: str = "") -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 5.2))
    grid = fig.add_gridspec(2, 3, height_ratios=(3, 1), hspace=0.08)
    for j, level in enumerate(LEVELS):
        m = ev.levels[level]
        r = m.reliability
        edges = np.asarray(r.edges)
        width = np.diff(edges)
        acc = np.asarray([np.nan if a is None else a for a in r.accuracy])
        conf = np.asarray([np.nan if c is None else c for c in r.mean_confidence])
        ax = fig.add_subplot(grid[0, j])
        ax.bar(edges[:-1], np.nan_to_num(acc), width=width, align="edge", color=_COLOURS[level], alpha=0.75,
               edgecolor="white", label="accuracy")
        ax.plot([0, 1], [0, 1], color="black", ls="--", lw=1, label="perfect calibration")
        ax.plot(conf, acc, "o", color="black", ms=3.5, label="(mean confidence, accuracy)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xticklabels([])
        ax.set_title(f"{level} · ECE {m.ece:.3f} · accuracy {m.accuracy:.1%}", fontsize=10)
        if j == 0:
            ax.set_ylabel("accuracy in bin")
            ax.legend(loc="upper left", fontsize=7)
        ax.grid(alpha=0.3)
        hx = fig.add_subplot(grid[1, j], sharex=ax)
        hx.bar(edges[:-1], r.count, width=width, align="edge", color=_COLOURS[level], alpha=0.5)
        if any(r.count):
            hx.set_yscale("log")
        hx.set_xlabel("confidence")
        if j == 0:
            hx.set_ylabel("documents")
    fig.suptitle(f"Reliability{' · ' + title if title else ''} (answered documents: {ev.levels['item'].answered})",
                 fontsize=11)
    _save_figure(fig, path)


def plot_confusion(ev: Evaluation, path: Path, *, cjk: bool, title: str = "") -> None:
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.figure import Figure

    cm = ev.confusion
    counts = cm.counts
    support = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, support, out=np.zeros(counts.shape), where=support > 0)
    fig = Figure(figsize=(12.5, 10.5))
    ax = fig.add_subplot()
    cmap = LinearSegmentedColormap.from_list("w2b", ["#ffffff", "#08306b"])
    im = ax.imshow(share, cmap=cmap, vmin=0, vmax=1, aspect="auto")
    k = len(cm.classes)
    for i in range(k):
        for j in range(k + 1):
            if counts[i, j]:
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=6.5,
                        color="white" if share[i, j] > 0.55 else ("#b2182b" if i != j else "black"))
    ax.axvline(k - 0.5, color="#888888", lw=0.8)
    ax.set_xticks(range(k + 1), [*cm.classes, "abstained"], rotation=90, fontsize=8)
    rows = [f"{c} {n if len(n) <= 12 else n[:11] + '…'}" if cjk else c for c, n in zip(cm.classes, cm.names)]
    ax.set_yticks(range(k), [f"{r} ({s})" for r, s in zip(rows, support[:, 0])], fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (documents)")
    ax.set_title(f"Class confusion{' · ' + title if title else ''}: counts, colour = share of the row", fontsize=11)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    _save_figure(fig, path)


# --------------------------------------------------------------------------------- tables
PER_CLASS_HEADER = (
    "class_code", "class_name", "stage", "support", "predicted", "item_accuracy", "class_precision",
    "class_recall", "mean_confidence", "auto_share", "auto_precision", "abstained",
)


def per_class_csv(ev: Evaluation) -> str:
    rows = [
        (r.class_code, r.class_name, r.stage, r.support, r.predicted, r.item_accuracy, r.precision, r.recall,
         r.mean_confidence, r.auto_share, r.auto_precision, r.abstained)
        for r in ev.per_class
    ]
    return _csv_text(PER_CLASS_HEADER, rows)


def confusion_csv(ev: Evaluation) -> str:
    cm = ev.confusion
    rows = [(c, n, *row.tolist()) for c, n, row in zip(cm.classes, cm.names, cm.counts)]
    return _csv_text(("true_class", "class_name", *cm.columns), rows)


# ------------------------------------------------------------------------------- the report
def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _point(p: OperatingPoint | None) -> str:
    if p is None:
        return "–"
    if p.threshold is None:
        return "none (target not reached)"
    return f"{_pct(p.coverage)} at {_pct(p.precision)} (≥ {p.threshold:.3f})"


def _baseline_eval(catalogue: Catalogue, truth: Sequence[str], value: Baseline, target: float) -> Evaluation:
    codes, conf = value[0], value[1]
    return evaluate(catalogue, truth, list(codes), list(conf), target_precision=target)


def _summary(ev: Evaluation, baselines: Mapping[str, Evaluation], title: str) -> str:
    lv = ev.levels
    lines = [
        (f"{title + ': ' if title else ''}{ev.n} documents ({ev.abstained} abstained) · "
         f"item {_pct(lv['item'].accuracy)} · class {_pct(lv['class'].accuracy)} · stage {_pct(lv['stage'].accuracy)}"),
        f"calibration (ECE): item {lv['item'].ece:.3f} · class {lv['class'].ece:.3f} · stage {lv['stage'].ece:.3f}",
    ]
    for level in ("item", "class"):
        at, tgt = ev.at_threshold.get(level), ev.at_target[level]
        part = f"auto-filed at the model threshold {_point(at)}; " if at else ""
        lines.append(f"{level}: {part}{ev.target_precision:.0%} precision buys coverage {_point(tgt)}")
    for name, b in baselines.items():
        lines.append(
            f"baseline {name}: item {_pct(b.levels['item'].accuracy)} · class {_pct(b.levels['class'].accuracy)} · "
            f"ECE {b.levels['item'].ece:.3f} · {ev.target_precision:.0%} precision buys {_point(b.at_target['item'])}"
        )
    return "\n".join(lines)


def _markdown(ev: Evaluation, baselines: Mapping[str, Evaluation], title: str, font: str | None, when: str) -> str:
    lv, t = ev.levels, ev.target_precision
    out = [
        f"# Evaluation{' — ' + title if title else ''}",
        "",
        (f"{ev.n} labelled documents, {ev.abstained} abstained (judged out of catalogue: never right, never "
         f"auto-filed). Target precision {t:.0%}. Written {when}."),
        "",
        "| level | accuracy | ECE | auto-filed at the model's threshold | coverage the target buys here |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for level in LEVELS:
        m = lv[level]
        at = ev.at_threshold.get(level)
        tgt = ev.at_target.get(level)
        out.append(f"| {level} | {_pct(m.accuracy)} | {m.ece:.3f} | {_point(at)} | {_point(tgt)} |")
    if baselines:
        out += [
            "",
            "Peer baseline, trained and scored on the same split (item probabilities only):",
            "",
            "| model | item | class | stage | item ECE | coverage at the target |",
            "| --- | ---: | ---: | ---: | ---: | --- |",
            (f"| dangan | {_pct(lv['item'].accuracy)} | {_pct(lv['class'].accuracy)} | {_pct(lv['stage'].accuracy)} "
             f"| {lv['item'].ece:.3f} | {_point(ev.at_target['item'])} |"),
        ]
        for name, b in baselines.items():
            bl = b.levels
            out.append(
                f"| {name} | {_pct(bl['item'].accuracy)} | {_pct(bl['class'].accuracy)} | {_pct(bl['stage'].accuracy)} "
                f"| {bl['item'].ece:.3f} | {_point(b.at_target['item'])} |"
            )
    worst = sorted((r for r in ev.per_class if r.support), key=lambda r: (r.recall or 0.0, -r.support))[:5]
    if worst:
        out += ["", "Weakest classes (class recall): " + ", ".join(
            f"{r.class_code} {r.class_name} {_pct(r.recall)} of {r.support}" for r in worst
        ) + "."]
    out += [
        "",
        ("Same-named items (e.g. 工程开工报审表 B2-1 / C3-1) count as one answer. \"Auto-filed at the model's "
         "threshold\" uses the thresholds chosen on calibration data; \"coverage the target buys here\" is the "
         "largest share whose precision measured on *these* documents reaches the target (optimistic: it is "
         "chosen on the data it is measured on)."),
        "",
        "## Files",
        "",
        f"- [metrics.json]({FILES['metrics']}): every number, the curves and the reliability bins",
        f"- [per_class.csv]({FILES['per_class']}): one row per catalogue class",
        f"- [confusion_matrix.csv]({FILES['confusion_csv']}): rows true class, columns predicted class + abstained",
        "",
        "## Risk–coverage",
        "",
        f"![risk–coverage]({FILES['risk_coverage']})",
        "",
        "## Reliability",
        "",
        f"![reliability]({FILES['reliability']})",
        "",
        "## Class confusion",
        "",
        f"![confusion matrix]({FILES['confusion_png']})",
        "",
    ]
    if not font:
        out.insert(-1, "_No CJK font was found: plots are labelled with class codes (install fonts-noto-cjk)._\n")
    return "\n".join(out)


def write_evaluation_report(
    out_dir: Path,
    catalogue: Catalogue,
    truth_codes: Sequence[str],
    predictions: Sequence[PredictionLike],
    *,
    item_threshold: float,
    class_threshold: float | None = None,
    target_precision: float = 0.99,
    baseline: Mapping[str, Baseline] | None = None,
    title: str = "",
) -> EvaluationReport:
    """Score ``predictions`` (item_code ``""``/None = abstention) against ``truth_codes`` and write the
    report folder. ``baseline`` maps a name to (predicted item codes, confidences) on the same documents."""
    if not truth_codes:
        raise ValueError("no documents to evaluate")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {k: out_dir / v for k, v in FILES.items()}
    ev = evaluate_predictions(
        catalogue, truth_codes, predictions, item_threshold=item_threshold, class_threshold=class_threshold,
        target_precision=target_precision,
    )
    baselines = {name: _baseline_eval(catalogue, truth_codes, v, target_precision) for name, v in (baseline or {}).items()}
    font = cjk_font()
    label = title if font or title.isascii() else ""

    _write_text(paths["per_class"], per_class_csv(ev), encoding="utf-8-sig")
    _write_text(paths["confusion_csv"], confusion_csv(ev), encoding="utf-8-sig")
    with _plotting(font):
        plot_risk_coverage(ev, baselines, paths["risk_coverage"], title=label)
        plot_reliability(ev, paths["reliability"], title=label)
        plot_confusion(ev, paths["confusion_png"], cjk=bool(font), title=label)

    metrics = ev.metrics()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    summary = _summary(ev, baselines, title)
    payload = {
        "title": title,
        "generated": when,
        "summary": metrics.as_dict(),
        "evaluation": ev.as_dict(),
        "baselines": {
            name: {"summary": b.metrics().as_dict(), **{k: v for k, v in b.as_dict().items() if k != "confusion"}}
            for name, b in baselines.items()
        },
        "files": {k: v.name for k, v in paths.items()},
        "cjk_font": font,
    }
    _write_text(paths["metrics"], json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    _write_text(paths["report"], _markdown(ev, baselines, title, font, when))
    return EvaluationReport(
        out_dir=out_dir,
        report_path=paths["report"],
        metrics_path=paths["metrics"],
        per_class_path=paths["per_class"],
        confusion_csv_path=paths["confusion_csv"],
        confusion_png_path=paths["confusion_png"],
        risk_coverage_path=paths["risk_coverage"],
        reliability_path=paths["reliability"],
        metrics=metrics,
        evaluation=ev,
        baselines=baselines,
        summary=summary,
        cjk_font=font,
    )
