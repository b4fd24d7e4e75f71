"""Find catalogue items by code or by words, for people: a reviewer typing "隐蔽" wants C5-1
(隐蔽工程验收记录), typing "c5" wants the C5 class, typing "技术核定单" wants the item it is a local
name for. Matches item names, class names, and the knowledge files' titles and aliases."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from models.catalogue import Catalogue, Item, load_catalogue, normalize_name
from models.knowledge import load_knowledge

_CODE = re.compile(r"^[A-Ea-e]\d*[ab]?(-\d*)?$")


@dataclass(frozen=True)
class Match:
    item: Item
    matched: str  # the name or alias the query was found in
    score: float


@cache
def _names(catalogue: Catalogue) -> dict[str, tuple[str, ...]]:
    knowledge = load_knowledge()
    out = {}
    for item in catalogue.items:
        k = knowledge.get(item.code)
        out[item.code] = tuple(dict.fromkeys([item.name, *(k.names if k else ())]))
    return out


def search_catalogue(query: str, catalogue: Catalogue | None = None, *, limit: int = 12) -> list[Match]:
    """Items matching ``query``, best first: exact code, code prefix, then names containing every
    character run of the query (whitespace separates words that must all appear)."""
    catalogue = catalogue or load_catalogue()
    q = normalize_name(query).strip()
    if not q:
        return []
    found: dict[str, Match] = {}
    if _CODE.match(q):
        for item in catalogue.items:
            if item.code.upper() == q.upper():
                found[item.code] = Match(item, item.name, 3.0)
            elif item.code.upper().startswith(q.upper()):
                found.setdefault(item.code, Match(item, item.name, 2.0 - item.position / 1000))
    words = [normalize_name(w) for w in query.split() if w.strip()]
    names = _names(catalogue)
    for item in catalogue.items:
        if item.code in found:
            continue
        best: Match | None = None
        for i, name in enumerate(names[item.code]):
            hay = normalize_name(name)
            if all(w in hay for w in words):
                # Prefer the official name, then shorter names (a closer match), then catalogue order.
                score = 1.0 - 0.1 * (i > 0) - len(hay) / 1000
                if best is None or score > best.score:
                    best = Match(item, name, score)
        if best is None and all(w in normalize_name(item.class_name) for w in words):
            best = Match(item, item.class_name, 0.5 - item.position / 1000)
        if best is not None:
            found[item.code] = best
    ranked = sorted(found.values(), key=lambda m: (-m.score, catalogue.order_key(m.item.code)))
    return ranked[:limit]
