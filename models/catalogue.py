"""GB/T 50328-2014 Appendix A as stage → class → item, with same-named items made equivalent.

The CSV in ``models/data/catalogue.csv`` is the project's own copy of the reference transcription;
corrections verified against the standard are applied from the knowledge files (``name_fix``), and
item codes never change.
"""

from __future__ import annotations

import csv
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
CATALOGUE_CSV = DATA_DIR / "catalogue.csv"


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    stage: str
    stage_name: str
    class_code: str
    class_name: str
    group: str
    position: int

    @property
    def equivalence_key(self) -> str:
        """Items printed with the same name (e.g. 工程开工报审表 B2-1 / C3-1) share this key."""
        return normalize_name(self.name)


_DASHES = re.compile(r"[\u2010-\u2015\u2212_]")
_LABEL_CODE = re.compile(r"^([A-Ea-e]\d{0,2}-\d{1,3})(?=$|[\s.\-·:(（\u4e00-\u9fff])")


def normalize_name(name: str) -> str:
    text = unicodedata.normalize("NFKC", name)
    return re.sub(r"[\s()（）]", "", text)


@dataclass(frozen=True)
class Catalogue:
    items: tuple[Item, ...]
    sha256: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {i.code: i for i in self.items})

    @cached_property
    def _by_key(self) -> dict[str, list[str]]:
        """Codes per equivalence key (same-named items), in catalogue order. Derived when first used,
        so catalogues pickled inside older model files have it too."""
        by_key: dict[str, list[str]] = {}
        for i in self.items:
            by_key.setdefault(i.equivalence_key, []).append(i.code)
        return by_key

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code  # type: ignore[attr-defined]

    def __getitem__(self, code: str) -> Item:
        return self._by_code[code]  # type: ignore[attr-defined]

    @property
    def codes(self) -> list[str]:
        return [i.code for i in self.items]

    @property
    def class_codes(self) -> list[str]:
        return list(dict.fromkeys(i.class_code for i in self.items))

    @property
    def stages(self) -> list[str]:
        return list(dict.fromkeys(i.stage for i in self.items))

    def class_name(self, class_code: str) -> str:
        return next(i.class_name for i in self.items if i.class_code == class_code)

    def equivalent(self, a: str, b: str) -> bool:
        """True when two codes name the same form (scored as the same answer)."""
        return a == b or self[a].equivalence_key == self[b].equivalence_key

    def equivalents(self, code: str) -> list[str]:
        return list(self._by_key[self[code].equivalence_key])

    def resolve(self, label: str) -> str | None:
        """The item code a person's label means, or None: a code as people type it (``c5-1``,
        full-width ``Ｃ５－１``, ``C5—1``, ``C5_1``), optionally followed by the name (``C5-1 隐蔽工程验收记录``),
        or the item's catalogue name alone (of same-named items, the first in catalogue order)."""
        text = _DASHES.sub("-", unicodedata.normalize("NFKC", label)).strip()
        m = _LABEL_CODE.match(text)
        if m and (code := m.group(1).upper()) in self:
            return code
        return next(iter(self._by_key.get(normalize_name(text), ())), None)

    def order_key(self, code: str) -> tuple[int, int]:
        """Catalogue order: class order then position, for exports grouped as archives hand them in."""
        item = self[code]
        return (self.class_codes.index(item.class_code), item.position)


def _sort_position(code: str) -> int:
    return int(code.rsplit("-", 1)[1])


@cache
def load_catalogue(path: Path = CATALOGUE_CSV) -> Catalogue:
    raw = path.read_bytes()
    fixes = _name_fixes()
    items = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            code = row["item_code"].strip()
            items.append(
                Item(
                    code=code,
                    name=fixes.get(code, row["item_name"].strip()),
                    stage=row["stage"].strip(),
                    stage_name=row["stage_name"].strip(),
                    class_code=row["class_code"].strip(),
                    class_name=row["class_name"].strip(),
                    group=row["group"].strip(),
                    position=_sort_position(code),
                )
            )
    digest = hashlib.sha256(raw + repr(sorted(fixes.items())).encode()).hexdigest()
    return Catalogue(items=tuple(items), sha256=digest)


def _name_fixes() -> dict[str, str]:
    from models.knowledge import load_knowledge  # local: knowledge depends on nothing here

    return {code: k.name_fix for code, k in load_knowledge().items() if k.name_fix}
