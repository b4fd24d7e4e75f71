"""What the trade knows about each catalogue item: titles, local names, issuers, fields, phrases.

Read from ``models/data/knowledge/*.yaml`` (schema in that folder's README). The classifier uses it as
evidence beside the learned model; the sample generator uses it to write documents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

KNOWLEDGE_DIR = Path(__file__).resolve().parent / "data" / "knowledge"


@dataclass(frozen=True)
class ItemKnowledge:
    code: str
    titles: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    issuer: str = ""
    authority: tuple[str, ...] = ()
    signers: tuple[str, ...] = ()
    discipline: str = ""
    fields: tuple[str, ...] = ()
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    phrases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    name_fix: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Every name a document may carry for this item: titles first, then local names."""
        return tuple(dict.fromkeys((*self.titles, *self.aliases)))


def _tuple(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)  # type: ignore[union-attr]


def _parse(code: str, raw: dict) -> ItemKnowledge:
    values = {str(k): _tuple(v) for k, v in (raw.get("values") or {}).items()}
    return ItemKnowledge(
        code=code,
        titles=_tuple(raw.get("titles")),
        aliases=_tuple(raw.get("aliases")),
        issuer=str(raw.get("issuer") or ""),
        authority=_tuple(raw.get("authority")),
        signers=_tuple(raw.get("signers")),
        discipline=str(raw.get("discipline") or ""),
        fields=_tuple(raw.get("fields")),
        values=values,
        phrases=_tuple(raw.get("phrases")),
        keywords=_tuple(raw.get("keywords")),
        name_fix=(str(raw["name_fix"]).strip() or None) if raw.get("name_fix") else None,
    )


@cache
def load_knowledge(directory: Path = KNOWLEDGE_DIR) -> dict[str, ItemKnowledge]:
    """All knowledge entries by item code. Files are merged; a code defined twice is an error."""
    out: dict[str, ItemKnowledge] = {}
    for path in sorted(directory.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for code, raw in (doc.get("items") or {}).items():
            if code in out:
                raise ValueError(f"{path.name}: item {code} is defined twice")
            out[str(code)] = _parse(str(code), raw or {})
    return out
