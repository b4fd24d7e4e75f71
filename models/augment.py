"""Partial views of documents: the pages archives hold besides whole, titled forms.

Archives are full of pages that do not print the form's title: continuation pages, excerpts, cover
letters that never name the form, partial scans. Whole generated or catalogued documents almost
always do, so a combiner and thresholds fitted on them learn that a printed title is always there
and are too sure of themselves on everything else. Adding views that drop the lines naming the item,
and windows of a document's lines, to the calibration data makes the routing thresholds hold on
such pages too. (Adding them to the text model's training data was measured too: no gain.)
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from models.evidence import compact


@dataclass(frozen=True)
class View:
    source: int  # index of the document the view was cut from (its label and family carry over)
    text: str


def _names_on(line: str, names: Sequence[str]) -> bool:
    c = compact(line)
    return any(n in c for n in names)


def partial_views(
    texts: Sequence[str], labels: Sequence[str], names: Mapping[str, Sequence[str]], *, share: float, seed: int = 0
) -> list[View]:
    """About ``share`` × len(texts) views: each drops the lines that print one of the item's names
    and then, half the time, keeps only a window of 40–80 % of the remaining lines (an excerpt)."""
    rng = random.Random(seed)
    compact_names = {code: [c for c in (compact(n) for n in ns) if len(c) >= 4] for code, ns in names.items()}
    views: list[View] = []
    for i, (text, label) in enumerate(zip(texts, labels)):
        if rng.random() >= share:
            continue
        own = compact_names.get(label, [])
        lines = [ln for ln in text.splitlines() if ln.strip() and not _names_on(ln, own)]
        if rng.random() < 0.5 and len(lines) > 4:
            size = max(3, round(len(lines) * rng.uniform(0.4, 0.8)))
            start = rng.randint(0, len(lines) - size)
            lines = lines[start : start + size]
        view = "\n".join(lines)
        if len(compact(view)) >= 20:
            views.append(View(i, view))
    return views
