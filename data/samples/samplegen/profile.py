"""What one catalogue item looks like on paper, for one split.

The wording split lives here and nowhere else: train and calib documents may print any title and
alias; train documents use phrases 0, 4, 8, …, calib documents phrases 2, 6, 10, … (so that the
probability combiner and the auto threshold are fitted on wordings the text model never saw, as
real archives will be); test documents print only the standard title and the odd-indexed phrases,
so held-out accuracy is measured on wordings neither training nor calibration saw.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache
from typing import Literal

from models.catalogue import Item, load_catalogue
from models.knowledge import ItemKnowledge, load_knowledge

from samplegen.lexicon import CLASS_FIELDS, CLASS_PHRASES, GROUP_DISCIPLINE, NAME_DISCIPLINE

Split = Literal["train", "calib", "test"]
WordingSide = Literal["train", "calib", "test"]


def side_of(split: Split) -> WordingSide:
    return split


def wording(seq: tuple[str, ...], side: WordingSide) -> tuple[str, ...]:
    """This side's share of a list of wordings."""
    return {"train": seq[0::4], "calib": seq[2::4], "test": seq[1::2]}[side]


@dataclass(frozen=True)
class ItemProfile:
    """The wording a document of ``code`` may use on one side of the split."""

    code: str
    class_code: str
    standard_title: str
    names: tuple[str, ...]  # printable titles for this side (standard first)
    phrases: tuple[str, ...]  # item-specific body sentences for this side
    generic_phrases: tuple[str, ...]  # class-level sentences for this side
    fields: tuple[str, ...]
    values: dict[str, tuple[str, ...]]
    keywords: tuple[str, ...]
    issuer: str
    authority: tuple[str, ...]
    signers: tuple[str, ...]
    discipline: str
    has_knowledge: bool

    def title(self, rng: random.Random, *, standard_share: float = 0.5) -> str:
        """A printed title: the standard one or (train side) a variant or local name."""
        if len(self.names) == 1 or rng.random() < standard_share:
            return self.names[0]
        return rng.choice(self.names[1:])

    def body(self, rng: random.Random, k: int) -> list[str]:
        """``k`` body sentences, item-specific first, padded with class-level ones."""
        own = list(self.phrases)
        rng.shuffle(own)
        picked = own[: max(1, k - 1)] if own else []
        pool = [p for p in self.generic_phrases if p not in picked]
        rng.shuffle(pool)
        picked += pool[: max(0, k - len(picked))]
        return picked[:k] if len(picked) > k else picked


def _discipline(item: Item, know: ItemKnowledge | None) -> str:
    if know and know.discipline:
        return know.discipline
    if item.group in GROUP_DISCIPLINE and GROUP_DISCIPLINE[item.group] != "综合":
        return GROUP_DISCIPLINE[item.group]
    for word, disc in NAME_DISCIPLINE:
        if word in item.name:
            return disc
    if item.class_code == "D":
        return "建筑"
    return "综合"


def _default_issuer(item: Item) -> str:
    c = item.class_code
    if c in ("A1", "A2", "A5"):
        return "政府主管部门"
    if c == "A3":
        return "勘察单位" if "勘察" in item.name else "设计单位"
    if c.startswith("B"):
        return "监理单位"
    if c in ("C4", "C6") and ("报告" in item.name or "检测" in item.name):
        return "检测机构"
    if c.startswith("C") or c in ("D",):
        return "施工单位"
    return "建设单位"


@cache
def item_profile(code: str, side: WordingSide) -> ItemProfile:
    """Profile of ``code`` for one side; items without knowledge fall back to catalogue and class pools."""
    item = load_catalogue()[code]
    know = load_knowledge().get(code)
    standard = (know.titles[0] if know and know.titles else item.name).strip()
    if side != "test":
        extra = (*know.titles[1:], *know.aliases) if know else ()
        names = tuple(dict.fromkeys((standard, item.name, *extra)))
    else:
        names = (standard,)
    k_phr = know.phrases if know else ()
    phrases = wording(k_phr, side)
    pool = CLASS_PHRASES.get(item.class_code, CLASS_PHRASES["E4"])
    generic = wording(pool, side)
    fields = (know.fields if know and know.fields else CLASS_FIELDS.get(item.class_code, CLASS_FIELDS["E4"]))
    return ItemProfile(
        code=code,
        class_code=item.class_code,
        standard_title=standard,
        names=names,
        phrases=tuple(p.strip() for p in phrases if p.strip()),
        generic_phrases=generic,
        fields=tuple(fields),
        values=dict(know.values) if know else {},
        keywords=know.keywords if know else (),
        issuer=(know.issuer if know and know.issuer else _default_issuer(item)),
        authority=know.authority if know else (),
        signers=know.signers if know else (),
        discipline=_discipline(item, know),
        has_knowledge=know is not None,
    )


def train_only_wordings(code: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(phrases, names) a test document of ``code`` must never print: used by the leakage check."""
    train = item_profile(code, "train")
    test = item_profile(code, "test")
    phrases = tuple(p for p in (*train.phrases, *train.generic_phrases)
                    if p not in test.phrases and p not in test.generic_phrases)
    names = tuple(n for n in train.names if n not in test.names)
    return phrases, names
