"""The generated document: layout blocks, the exact text they print, and ground-truth tags."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BlockKind = Literal[
    "letterhead",  # issuing body / company line at the very top
    "redhead",  # red government header (红头)
    "title",  # document title, large and centred
    "subtitle",  # second title line / 文号 under a red head
    "meta",  # small right-aligned line (编号, 表号, 报告编号)
    "row",  # one table row; cells are drawn with borders
    "para",  # running text
    "heading",  # numbered chapter heading
    "sign",  # signature line(s), no border
    "titleblock",  # drawing title block cell list (D)
    "footer",  # page footer / 页码 / 监制
    "stamp_note",  # text printed inside a stamp area (归档章, 竣工图章)
]


@dataclass(frozen=True)
class Block:
    """One layout unit. ``text`` is what a text-layer extractor would read for it."""

    kind: BlockKind
    cells: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(c for c in self.cells if c)


def blocks_text(blocks: tuple[Block, ...] | list[Block]) -> str:
    return "\n".join(t for t in (b.text for b in blocks) if t)


@dataclass(frozen=True)
class SampleDoc:
    """A labelled synthetic document.

    ``text`` is exactly the printed text, one line per block. Tags are ground truth for what is
    actually visible: a masked or dropped project name gives ``project_name == ""``.
    """

    text: str
    item_code: str
    family: str
    split: str
    title: str  # the title printed ("" when the document shows none)
    project_name: str
    doc_number: str
    doc_date: str  # ISO date, "" when no date is printed
    units: dict[str, str] = field(default_factory=dict)  # role → name, as printed
    discipline: str = ""
    layout: str = "form"  # rendering hint: form, letter, redhead, permit, report, chapters, drawing, ...
    blocks: tuple[Block, ...] = ()
    seed_key: str = ""  # stable id of the draw (seed:split:code:k), for file names and rendering rngs

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")
