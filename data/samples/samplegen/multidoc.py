"""Multi-document files: several archive documents scanned back to back into one file, with truth.

Archives are scanned a folder at a time: a 隐蔽工程验收记录 followed by its 检验批 records, a report
followed by its 报审表, a notice followed by its reply. ``generate_multidoc`` composes such a file
(``kind="bundle"``) from generated documents of related items; each part may run over several
sheets — a table continued without its title, a running header ``…（续）``, the rest of the body, an
appendix. ``kind="single"`` is one long document of two or more sheets: the negative case, which a
splitter must leave whole.

The parts of one file belong to one project: they print the first part's project and parties.
Continuation sheets of a document print its number where they repeat a header. On the training
side a document now and then heads itself with a subject line (专题报告, 关于…的复函) instead of its
form title; held-out files open with held-out layouts only (never with an ``excerpt``, which is a
middle page and is used for continuation sheets there).

``render_multidoc_pdf`` writes the file with a text layer and ``render_multidoc_scan`` as image-only
pages; both return the ground truth: each part's item and 1-based page range. Every document is
drawn by ``generate_doc`` on the requested split (``test``: held-out families and wordings) with
document indices outside those corpora use, so existing corpora are untouched; everything is
reproducible from (seed, split, k).
"""

from __future__ import annotations

import dataclasses
import io
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from models.catalogue import load_catalogue
from samplegen.corpus import generate_doc
from samplegen.doc import Block, SampleDoc, blocks_text
from samplegen.families import _log_columns, heldout_family_weights
from samplegen.lexicon import GENERIC_PARTS, GENERIC_RESULTS
from samplegen.profile import Split, item_profile, side_of
from samplegen.world import person

MultiKind = Literal["bundle", "single"]

#: Items filed together in real archives, in the order they are scanned.
BUNDLES: tuple[tuple[str, ...], ...] = (
    ("C5-1", "C7-1", "C7-1"),  # 隐蔽工程验收记录, then its 检验批 records
    ("C5-1", "C7-1"),
    ("C7-2", "C7-1", "C7-1"),  # 分项工程 with its 检验批
    ("C7-3", "C7-2", "C7-1"),
    ("C2-2", "C2-1"),  # 施工组织设计, then its 报审表
    ("C2-3", "C2-1"),  # 危大工程方案 + 报审表
    ("C3-4", "C3-3"),  # 施工进度计划 + 报审表
    ("B1-8", "B1-9"),  # 监理工程师通知 + 回复单
    ("B1-1", "B1-2"),  # 监理规划 + 实施细则
    ("C5-14", "C5-15", "C5-16"),  # 浇灌申请书, 运输单, 开盘鉴定
    ("C6-16", "C6-16", "C6-17"),  # 试块强度报告 ×2, then 统计评定
    ("C6-13", "C6-14"),
    ("C4-11", "C4-8"),  # 钢材试验报告 + 进场检验记录
    ("C4-12", "C4-13", "C4-14"),
    ("C5-12", "C5-13"),  # 地基验槽 + 钎探
    ("C6-3", "C6-4"),  # 接地电阻 + 绝缘电阻
    ("C3-7", "B4-2"),  # 工程款支付申请 + 支付证书
    ("C2-6", "C2-7"),  # 设计变更 + 洽商
    ("A3-3", "A3-4"),  # 初步设计 + 审查意见
    ("A3-1", "A3-7"),
    ("E1-3", "E1-4", "E1-5"),  # 竣工报告, 评估报告, 竣工验收报告
    ("C8-2", "C8-3", "C8-4", "C8-5"),
    ("B2-1", "C3-3"),
    ("A5-1", "A5-2"),
)

_START_KINDS = frozenset({"letterhead", "redhead", "subtitle", "title", "meta"})
_CONT_MARKS = ("续表", "（续表）", "续上表", "（接上页）", "接上页", "（续）")
_APPENDIX = ("附件1：现场照片", "附件：检查部位示意图", "附表：实测实量明细", "附：相关影像资料", "附件2 材料清单",
             "附图", "附件：检查明细表", "附页")


@dataclass(frozen=True)
class DocPart:
    """One document of the file: its own generated blocks, then any further sheets (each a new page)."""

    doc: SampleDoc
    sheets: tuple[tuple[Block, ...], ...]  # sheets[0] = the document as generated (may overflow)

    @property
    def item_code(self) -> str:
        return self.doc.item_code

    @property
    def text(self) -> str:
        return "\n".join(blocks_text(s) for s in self.sheets)


@dataclass(frozen=True)
class MultiDoc:
    parts: tuple[DocPart, ...]
    kind: MultiKind
    split: str
    seed_key: str

    @property
    def item_codes(self) -> tuple[str, ...]:
        return tuple(p.item_code for p in self.parts)


@dataclass(frozen=True)
class PartTruth:
    """Ground truth of one part: its item and 1-based inclusive page range."""

    item_code: str
    first_page: int
    last_page: int


# --- composition ---------------------------------------------------------------------------------

def _head_family(code: str, split: Split, rng: random.Random) -> str | None:
    """Held-out side: any held-out family that can open a document (an excerpt is a middle page)."""
    if side_of(split) != "test":
        return None  # the item's own training layouts, as generate_doc picks them
    item = load_catalogue()[code]
    weights = {f: w for f, w in heldout_family_weights(item, item_profile(code, "test")).items() if f != "excerpt"}
    names = sorted(weights)
    return rng.choices(names, weights=[weights[n] for n in names])[0]


_GENERIC_HEADINGS = ("工作联系函", "关于{project}{keyword}的报告", "{project}{keyword}情况报告", "专题报告", "备忘录",
                     "关于{keyword}问题的请示", "告知书", "关于{keyword}的复函")


def _retitle(doc: SampleDoc, rng: random.Random) -> SampleDoc:
    """Training side only: the document heads itself with a subject line instead of its form title, as
    letters and reports often do (the held-out narrative family has its own, different headings)."""
    prof = item_profile(doc.item_code, side_of(doc.split))  # type: ignore[arg-type]
    keyword = rng.choice(prof.keywords) if prof.keywords else load_catalogue()[doc.item_code].name[:6]
    heading = rng.choice(_GENERIC_HEADINGS).format(project=doc.project_name, keyword=keyword)
    blocks = list(doc.blocks)
    at = next((i for i, b in enumerate(blocks) if b.kind == "title"), None)
    if at is None:
        return doc
    blocks[at] = Block("title", (heading,))
    return dataclasses.replace(doc, blocks=tuple(blocks), text=blocks_text(blocks), title="")


def _bundle_codes(rng: random.Random) -> tuple[str, ...]:
    if rng.random() < 0.5:
        codes = list(rng.choice(BUNDLES))
        if len(codes) > 2 and rng.random() < 0.3:
            codes = codes[: rng.randint(2, len(codes) - 1)]
        return tuple(codes)
    # Documents of one class, as archive volumes are filed: a few items, now and then one repeated.
    cat = load_catalogue()
    cls = rng.choice(cat.class_codes)
    pool = [i.code for i in cat.items if i.class_code == cls]
    n = rng.randint(2, 4)
    codes = [rng.choice(pool)]
    while len(codes) < n:
        codes.append(codes[-1] if rng.random() < 0.12 else rng.choice(pool))
    return tuple(codes)


def _swap_world(blocks: tuple[Block, ...], src: SampleDoc, dst: SampleDoc, *, number: bool) -> tuple[Block, ...]:
    """Print ``dst``'s project and parties (and, for sheets of one document, its number) where
    ``src`` printed its own."""
    mapping = {}
    if number and src.doc_number and dst.doc_number:
        mapping[src.doc_number] = dst.doc_number
    if src.project_name and dst.project_name:
        mapping[src.project_name] = dst.project_name
    for role, name in src.units.items():
        if role in dst.units and name:
            mapping[name] = dst.units[role]

    def sub(text: str) -> str:
        for a in sorted(mapping, key=len, reverse=True):
            text = text.replace(a, mapping[a])
        return text

    return tuple(Block(b.kind, tuple(sub(c) for c in b.cells)) for b in blocks)


def _mark(rng: random.Random, doc: SampleDoc) -> list[Block]:
    """What tops a continuation sheet: nothing, a 续 mark, a running header, or (rarely) the bare title."""
    r = rng.random()
    if r < 0.35:
        return []
    if r < 0.6:
        return [Block("meta", (rng.choice(_CONT_MARKS),))]
    if doc.title and r < 0.85:
        return [Block("meta", (f"{doc.title}{rng.choice(('（续）', '（续表）', '(续)'))}",))]
    if doc.title:  # a form that repeats its header on every sheet
        return [Block("title", (doc.title,))]
    return []


def _table_sheet(doc: SampleDoc, rng: random.Random) -> list[Block]:
    """A table continued from the previous page: column header and many rows, no title."""
    cols = _log_columns(doc.title + load_catalogue()[doc.item_code].name)
    keywords = item_profile(doc.item_code, side_of(doc.split)).keywords  # type: ignore[arg-type]
    blocks = [Block("row", cols)] if rng.random() < 0.7 else []
    start = rng.randint(6, 20)
    for r in range(rng.randint(10, 26)):
        cells = []
        for c in cols:
            if c == "序号":
                cells.append(str(start + r))
            elif "日期" in c or "时间" in c:
                cells.append(f"{rng.randint(1, 12)}-{rng.randint(1, 28):02d} {rng.choice(('08', '14', '20'))}:00")
            elif "点" in c and "测点" not in c:
                cells.append(f"{rng.choice(('J', 'C', 'S', 'BM'))}{start + r}")
            elif c == "姓名" or "记录" in c:
                cells.append(person(rng))
            elif c == "天气":
                cells.append(rng.choice(("晴", "多云", "阴", "小雨")))
            elif any(w in c for w in ("部位", "内容", "项目", "名称", "工种", "职务")):
                cells.append(rng.choice((*keywords, *GENERIC_PARTS)) if keywords else rng.choice(GENERIC_PARTS))
            else:
                cells.append(f"{rng.uniform(0.1, 60):.{rng.randint(0, 2)}f}")
        blocks.append(Block("row", tuple(cells)))
    if rng.random() < 0.5:
        blocks.append(Block("para", (f"{rng.choice(('检查结论', '结论', '备注'))}：{rng.choice(GENERIC_RESULTS)}",)))
    return blocks


def _body_sheet(doc: SampleDoc, split: Split, seed: int, k: int, rng: random.Random) -> list[Block]:
    """The rest of the document's body: another draw of the same item, without its title and header.

    Held-out side: mostly an ``excerpt`` (a middle page by design), else the body of a narrative or
    regional form; system exports and OA printouts are whole documents, never a page 2.
    """
    family = None
    if side_of(split) == "test":
        family = "excerpt" if rng.random() < 0.7 else rng.choice(("narrative", "regional"))
    sib = generate_doc(doc.item_code, split, seed, k, family=family)
    blocks = tuple(b for b in sib.blocks if b.kind not in _START_KINDS)
    if sib.family != "excerpt" and len(blocks) > 3:  # start mid-body: its header and addressee were on page 1
        blocks = blocks[rng.randint(1, len(blocks) // 3):]
    return list(_swap_world(blocks, sib, doc, number=True))


def _appendix_sheet(doc: SampleDoc, rng: random.Random) -> list[Block]:
    blocks = [Block("heading", (rng.choice(_APPENDIX),))]
    if rng.random() < 0.5:
        for i in range(rng.randint(2, 5)):
            blocks.append(Block("row", (f"照片{i + 1}", f"{rng.choice(GENERIC_PARTS)}{rng.choice(('施工完成情况', '检查部位', '整改后'))}",
                                        f"拍摄：{person(rng)}")))
    else:
        blocks.append(Block("row", ("序号", "部位", "设计值", "实测值", "偏差")))
        for i in range(rng.randint(5, 14)):
            d = rng.randint(100, 900)
            blocks.append(Block("row", (str(i + 1), rng.choice(GENERIC_PARTS), str(d), str(d + rng.randint(-6, 6)),
                                        f"{rng.randint(-6, 6)}mm")))
    return blocks


def _sheets(doc: SampleDoc, extra: int, split: Split, seed: int, key: int, rng: random.Random) -> tuple[tuple[Block, ...], ...]:
    sheets: list[list[Block]] = [list(doc.blocks)]
    for j in range(extra):
        r = rng.random()
        if r < 0.4:
            body = _table_sheet(doc, rng)
        elif r < 0.85:
            body = _body_sheet(doc, split, seed, key * 10 + j, rng)
        else:
            body = _appendix_sheet(doc, rng)
        sheets.append(_mark(rng, doc) + body)
    if extra and rng.random() < 0.4:  # page numbers on every sheet
        n = len(sheets)
        style = rng.choice(("第{k}页 共{n}页", "共{n}页 第{k}页", "- {k} -"))
        sheets = [s + [Block("footer", (style.format(k=i + 1, n=n),))] for i, s in enumerate(sheets)]
    return tuple(tuple(s) for s in sheets)


def generate_multidoc(split: Split, seed: int, k: int, *, kind: MultiKind = "bundle",
                      codes: tuple[str, ...] | None = None,
                      extra_sheets: tuple[int, ...] | None = None) -> MultiDoc:
    """One multi-document file (``bundle``) or one long single document (``single``).

    ``codes`` pins the parts' items and ``extra_sheets`` the number of continuation sheets of each
    part (otherwise drawn: a bundle part has 0–2, a single document 1–3).
    """
    key = f"multi:{seed}:{split}:{kind}:{k}"
    rng = random.Random(key)
    if codes is None:
        codes = _bundle_codes(rng) if kind == "bundle" else (rng.choice(load_catalogue().codes),)
    if kind == "single" and len(codes) != 1:
        raise ValueError("a single document has exactly one item")
    if extra_sheets is None:
        if kind == "single":
            extra_sheets = (rng.choice((1, 1, 2, 3)),)
        else:
            extra_sheets = tuple(0 if rng.random() < 0.65 else rng.choice((1, 1, 2)) for _ in codes)
    if len(extra_sheets) != len(codes):
        raise ValueError("extra_sheets needs one count per part")
    parts: list[DocPart] = []
    for j, (code, extra) in enumerate(zip(codes, extra_sheets)):
        doc_k = 100_000 + k * 10 + j  # outside the range corpora use
        doc = generate_doc(code, split, seed, doc_k, family=_head_family(code, split, rng))
        if side_of(split) != "test" and rng.random() < 0.12:
            doc = _retitle(doc, rng)
        if parts:  # one folder, one project: every part names the first part's project and parties
            blocks = _swap_world(doc.blocks, doc, parts[0].doc, number=False)
            doc = dataclasses.replace(doc, blocks=blocks, text=blocks_text(blocks),
                                      project_name=parts[0].doc.project_name if doc.project_name else "")
        parts.append(DocPart(doc, _sheets(doc, extra, split, seed + 1, doc_k, rng)))
    return MultiDoc(tuple(parts), kind, split, key)


def generate_multidocs(split: Split, seed: int, n: int, *, kind: MultiKind = "bundle") -> list[MultiDoc]:
    return [generate_multidoc(split, seed, k, kind=kind) for k in range(n)]


# --- rendering -----------------------------------------------------------------------------------

def render_multidoc_pdf_bytes(md: MultiDoc, *, rng: random.Random | None = None,
                              font: Path | str | None = None) -> tuple[bytes, tuple[PartTruth, ...]]:
    """The file as one text-layer PDF (each sheet starts a new page) and each part's page range."""
    from pypdf import PdfReader, PdfWriter

    from samplegen.render import FONTS, render_pdf_bytes

    rng = rng or random.Random(f"pdf:{md.seed_key}")
    writer = PdfWriter()
    truth: list[PartTruth] = []
    page = 0
    for part in md.parts:
        part_font = Path(font) if font else rng.choice(FONTS)  # parts come from different offices
        first = page + 1
        for sheet in part.sheets:
            sheet_doc = dataclasses.replace(part.doc, blocks=sheet, text=blocks_text(sheet))
            reader = PdfReader(io.BytesIO(render_pdf_bytes(sheet_doc, font=part_font, rng=rng)))
            for p in reader.pages:
                writer.add_page(p)
                page += 1
        truth.append(PartTruth(part.item_code, first, page))
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue(), tuple(truth)


def render_multidoc_pdf(md: MultiDoc, path: Path | str, *, rng: random.Random | None = None,
                        font: Path | str | None = None) -> tuple[PartTruth, ...]:
    """Write ``md`` as a born-digital PDF; returns each part's item and page range."""
    data, truth = render_multidoc_pdf_bytes(md, rng=rng, font=font)
    Path(path).write_bytes(data)
    return truth


def render_multidoc_scan(md: MultiDoc, path: Path | str, *, degraded: bool = True,
                         fmt: Literal["pdf", "tiff"] = "pdf",
                         rng: random.Random | None = None) -> tuple[PartTruth, ...]:
    """Write ``md`` as image-only pages (PDF or multi-page TIFF), as a folder through a scanner.

    ``degraded`` gives every page scan damage and each part's last page its seal.
    """
    from samplegen.render import _save_images, _stamp_text, degrade, rasterize

    rng = rng or random.Random(f"scan:{md.seed_key}")
    data, truth = render_multidoc_pdf_bytes(md, rng=rng)
    pages = rasterize(data)
    if degraded:
        last = {t.last_page: md.parts[i].doc for i, t in enumerate(truth)}
        keep_color = rng.random() < 0.3
        pages = [degrade(p, rng, stamp_text=_stamp_text(last[i + 1]) if i + 1 in last else "", keep_color=keep_color)
                 for i, p in enumerate(pages)]
    _save_images(pages, Path(path), fmt, rng)
    return truth


__all__ = [
    "BUNDLES", "DocPart", "MultiDoc", "PartTruth", "generate_multidoc", "generate_multidocs",
    "render_multidoc_pdf", "render_multidoc_pdf_bytes", "render_multidoc_scan",
]
