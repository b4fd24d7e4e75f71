"""Corpus generation: per item and split, pick a family, write, perturb and tag documents.

Each document draws from its own ``random.Random`` keyed on (seed, split, item, index), so a
document does not change when other items are added, filtered or reordered.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Literal

from models.catalogue import load_catalogue
from samplegen.context import Ctx
from samplegen.doc import SampleDoc, blocks_text
from samplegen.families import FAMILIES, heldout_family_weights, train_family_weights
from samplegen.perturb import HEAVY, LIGHT, PINNED, TEST, perturb
from samplegen.profile import Split, item_profile, side_of
from samplegen.world import ROLES, World, make_world


def _pick(rng: random.Random, weights: dict[str, float], k: int) -> str:
    """Weighted family choice, cycling through the options so per-item documents differ in layout."""
    names = sorted(weights)
    if k < len(names) and rng.random() < 0.5:
        return names[(k + rng.randrange(len(names))) % len(names)]
    return rng.choices(names, weights=[weights[n] for n in names])[0]


def generate_doc(code: str, split: Split, seed: int, k: int, *, family: str | None = None,
                 title: str | None = None, project: World | None = None) -> SampleDoc:
    """One document of item ``code``; ``family`` pins the template (it must belong to the split's side),
    ``title`` the printed title, ``project`` the project it belongs to (its name, address, units and
    people; the document keeps a date of its own). Without it every document is of a project of its own."""
    key = f"{seed}:{split}:{code}:{k}"
    rng = random.Random(key)
    item = load_catalogue()[code]
    side = side_of(split)
    prof = item_profile(code, side)
    train_prof = item_profile(code, "train")
    if family is None:
        weights = (heldout_family_weights(item, prof) if side == "test"
                   else train_family_weights(item, train_prof))
        family = _pick(rng, weights, k)
    fam = FAMILIES[family]
    if fam.heldout != (side == "test"):
        raise ValueError(f"family {family!r} is {'held-out' if fam.heldout else 'train'}; not usable for {split}")
    world = make_world(rng)
    if project is not None:
        world = replace(project, date=world.date)
    ctx = Ctx(rng=rng, w=world, p=prof, item=item, split=split, force_title=title or "")
    draft = fam.write(ctx)
    level = PINNED if title else {"train": LIGHT, "calib": HEAVY, "test": TEST}[split]
    blocks, title = perturb(draft.blocks, draft.title, ctx, level)
    blocks = [b for b in blocks if b.text]
    text = blocks_text(blocks)
    units = {r: world.units[r] for r in ROLES if world.units[r] in text}
    date_iso = ""
    if draft.date is not None and ctx.date(draft.date) in text:
        date_iso = draft.date.isoformat()
    return SampleDoc(
        text=text,
        item_code=code,
        family=family,
        split=split,
        title=title if title and title in text else "",
        project_name=world.project if world.project in text else "",
        doc_number=draft.number if draft.number and draft.number in text else "",
        doc_date=date_iso,
        units=units,
        discipline=prof.discipline,
        layout=draft.layout,
        blocks=tuple(blocks),
        seed_key=key,
    )


def generate_corpus(
    split: Literal["train", "calib", "test"],
    seed: int,
    per_item: int,
    items: list[str] | None = None,
    projects: int | None = None,
) -> list[SampleDoc]:
    """``per_item`` documents for every catalogue item (or ``items``), in catalogue order; with
    ``projects``, the documents are spread over that many projects (as an archive's boxes are)
    instead of each being of a project of its own.

    train: training families and wordings, light perturbation; calib: the same with heavy
    perturbation; test: held-out families and held-out (odd-indexed) wordings.
    """
    if split not in ("train", "calib", "test"):
        raise ValueError(f"unknown split {split!r}; use train, calib or test")
    codes = items if items is not None else load_catalogue().codes
    if not projects:
        return [generate_doc(code, split, seed, k) for code in codes for k in range(per_item)]
    rng = random.Random(f"{seed}:{split}:projects")
    worlds = [make_world(rng) for _ in range(projects)]
    return [generate_doc(code, split, seed, k, project=rng.choice(worlds)) for code in codes for k in range(per_item)]
