"""Rendering documents as text PDFs, clean or degraded scans, phone photos and mixed PDFs.

The pipeline must read what archives hand in: born-digital PDFs with a text layer, image-only scans
(rotated, blurred, stamped, JPEG-damaged), phone photos whose EXIF says how to turn them, multi-page
TIFFs and PDFs whose second page is only an image. Every output is reproducible from the rng.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import io
import logging
import math
import os
import random
import tempfile
from functools import cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import pypdfium2 as pdfium
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

from samplegen.doc import Block, SampleDoc

logging.getLogger("fpdf").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)

FONTS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
)
SCAN_DPI = 200
CREATION_DATE = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)  # fixed so PDF bytes are reproducible
_PIL_DATE = CREATION_DATE.utctimetuple()  # Pillow writes /CreationDate from a struct_time
ScanFormat = Literal["pdf", "png", "jpg", "tiff"]
_EXTRA_CHARS = "①②③④⑤⑥⑦⑧⑨⑩ⒶⒷⒸⒹⒺ㎡℃☑□■△○●×÷±≤≥Φφ°～—…“”‘’〔〕【】《》「」·、。，：；？！（）丶ⅠⅡⅢⅣ砼〇³²¥−⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳ⒻⒼⒽ≈∶～‰μΩ"


# --- fonts ---------------------------------------------------------------------------------------

def _cache_dir() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "dangan-samplegen"


@cache
def _slim_font(source: Path) -> tuple[Path, frozenset[int]]:
    """A GB2312-sized cut of a CJK collection font, built once and cached on disk.

    fpdf2 subsets the embedded font on every save; on the 30k-glyph collections that costs ~200 ms
    per PDF, on this cut ~50 ms. Documents with characters outside it use the full font.
    """
    from fontTools import subset, ttLib

    chars = set(range(32, 127)) | {ord(c) for c in _EXTRA_CHARS}
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(ord(bytes((hi, lo)).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    digest = hashlib.sha256(("".join(map(chr, sorted(chars))) + str(source)).encode()).hexdigest()[:12]
    target = _cache_dir() / f"{source.stem}-{digest}.ttf"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        font = ttLib.TTFont(str(source), fontNumber=0, recalcTimestamp=False)
        opts = subset.Options()
        opts.glyph_names = False
        opts.notdef_outline = True
        opts.recommended_glyphs = True
        opts.drop_tables += ["EBDT", "EBLC", "EBSC", "BDF", "GSUB", "GPOS", "GDEF", "FFTM"]
        sub = subset.Subsetter(opts)
        sub.populate(unicodes=chars)
        sub.subset(font)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        os.close(fd)
        font.save(tmp)
        os.replace(tmp, target)
    cmap = ttLib.TTFont(str(target), lazy=True).getBestCmap()
    return target, frozenset(cmap)


@cache
def _full_cmap(source: Path) -> frozenset[int]:
    from fontTools import ttLib

    return frozenset(ttLib.TTFont(str(source), fontNumber=0, lazy=True).getBestCmap())


@cache
def _prototype(path: Path) -> object:
    """A parsed fpdf2 TTFFont to copy per document (parsing widths of 7k glyphs costs ~100 ms)."""
    pdf = FPDF()
    pdf.add_font("cjk", "", str(path), collection_font_number=0)
    return pdf.fonts["cjk"]


def _install_font(pdf: FPDF, font: Path, text: str) -> None:
    """Give ``pdf`` the CJK font as family ``cjk``, reusing the parsed prototype when possible."""
    try:
        slim, cmap = _slim_font(font)
        full = _full_cmap(font)  # a glyph the full font lacks is missing either way: no reason to fall back
        if all(ord(ch) in cmap or ord(ch) not in full for ch in text if ch != "\n"):
            from fontTools import ttLib
            from fpdf.fonts import SubsetMap

            proto = _prototype(slim)
            clone = copy.copy(proto)
            # OPTIMIZE_FONT_SPEED skips fontTools' size-optimal glyph re-encoding: half the save time.
            clone.ttfont = ttLib.TTFont(str(slim), recalcTimestamp=False, lazy=True,  # type: ignore[attr-defined]
                                        cfg={ttLib.OPTIMIZE_FONT_SPEED: True})
            clone.subset = SubsetMap(clone)  # type: ignore[attr-defined]
            clone.missing_glyphs = []  # type: ignore[attr-defined]
            clone.biggest_size_pt = 0  # type: ignore[attr-defined]
            clone.i = 1  # type: ignore[attr-defined]
            pdf.fonts["cjk"] = clone  # type: ignore[assignment]
            return
    except (AttributeError, ImportError, OSError):  # fpdf2 internals changed: take the slow, public path
        pass
    pdf.add_font("cjk", "", str(font), collection_font_number=0)


# --- text PDF ------------------------------------------------------------------------------------

class _Layout:
    """Block-by-block drawing on an fpdf2 page with per-document sizes and margins."""

    def __init__(self, pdf: FPDF, rng: random.Random, layout: str) -> None:
        self.pdf = pdf
        self.rng = rng
        self.layout = layout
        self.base = rng.choice((10.0, 10.5, 11.0, 12.0))
        self.line_h = self.base * 0.5
        self.bold_titles = rng.random() < 0.8

    def _font(self, size: float, *, bold: bool = False, color: tuple[int, int, int] = (0, 0, 0)) -> None:
        self.pdf.set_font("cjk", size=size)
        self.pdf.set_text_color(*color)
        if bold:  # no bold face in the collection fonts: fill+stroke fakes it
            self.pdf.text_mode = "FILL_STROKE"  # type: ignore[assignment]
            self.pdf.set_draw_color(*color)
            self.pdf.set_line_width(0.25)
        else:
            self.pdf.text_mode = "FILL"  # type: ignore[assignment]
            self.pdf.set_draw_color(0, 0, 0)
            self.pdf.set_line_width(0.2)

    def _ensure(self, height: float) -> None:
        if self.pdf.get_y() + height > self.pdf.h - self.pdf.b_margin:
            self.pdf.add_page()

    def line(self, text: str, size: float, align: str = "L", **kw: object) -> None:
        self._font(size, **kw)  # type: ignore[arg-type]
        self.pdf.multi_cell(0, size * 0.5, text, align=align, new_x="LMARGIN", new_y="NEXT")

    def row(self, cells: tuple[str, ...], bordered: bool) -> None:
        pdf = self.pdf
        self._font(self.base * 0.92)
        cells = tuple(c for c in cells) or ("",)
        weights = [max(4, min(30, len(c))) for c in cells]
        total_w = pdf.w - pdf.l_margin - pdf.r_margin
        widths = [total_w * w / sum(weights) for w in weights]
        lh = self.line_h * 0.95
        heights = []
        for c, w in zip(cells, widths):
            lines = pdf.multi_cell(w - 2, lh, c, dry_run=True, output="LINES") if c else [""]
            heights.append(len(lines) * lh)
        h = max(heights) + 2
        self._ensure(h)
        x0, y0 = pdf.l_margin, pdf.get_y()
        x = x0
        for c, w in zip(cells, widths):
            if bordered:
                pdf.rect(x, y0, w, h)
            if c:
                pdf.set_xy(x + 1, y0 + 1)
                pdf.multi_cell(w - 2, lh, c, new_x="LMARGIN", new_y="NEXT")
            x += w
        pdf.set_xy(x0, y0 + h)

    def stamp_box(self, cells: tuple[str, ...]) -> None:
        """归档章 / 竣工图章: a framed box of short lines at the right margin."""
        pdf = self.pdf
        self._font(self.base * 0.8, color=(150, 0, 0) if self.rng.random() < 0.3 else (0, 0, 0))
        w = 75.0
        h = len(cells) * self.line_h * 0.85 + 3
        self._ensure(h + 2)
        x = pdf.w - pdf.r_margin - w
        y = pdf.get_y() + 1
        pdf.rect(x, y, w, h)
        pdf.set_xy(x + 1.5, y + 1.5)
        for c in cells:
            pdf.set_x(x + 1.5)
            pdf.multi_cell(w - 3, self.line_h * 0.85, c, new_x="LMARGIN", new_y="NEXT")
        pdf.set_xy(pdf.l_margin, y + h + 2)
        self._font(self.base)

    def title_block(self, cells: tuple[str, ...]) -> None:
        """Drawing title block: a two-column grid in the lower right corner of the sheet."""
        pdf = self.pdf
        self._font(self.base * 0.8)
        rows = [cells[i : i + 2] for i in range(0, len(cells), 2)]
        w, rh = 130.0, self.line_h * 1.3
        x = pdf.w - pdf.r_margin - w
        y = max(pdf.get_y() + 4, pdf.h - pdf.b_margin - rh * len(rows) - 2)
        if y + rh * len(rows) > pdf.h - 2:
            pdf.add_page()
            y = pdf.h - pdf.b_margin - rh * len(rows) - 2
        pdf.set_line_width(0.5)
        pdf.rect(x, y, w, rh * len(rows))
        pdf.set_line_width(0.2)
        for i, pair in enumerate(rows):
            for j, c in enumerate(pair):
                cx = x + j * w / 2
                pdf.rect(cx, y + i * rh, w / 2, rh)
                pdf.set_xy(cx + 1, y + i * rh + 0.8)
                pdf.cell(w / 2 - 2, rh - 1.6, c[:30])
        pdf.set_xy(pdf.l_margin, y + rh * len(rows) + 2)

    def drawing_lines(self) -> None:
        """Some plan geometry so a drawing does not look like a letter."""
        pdf, rng = self.pdf, self.rng
        pdf.set_draw_color(60, 60, 60)
        x0, y0 = pdf.l_margin + 5, pdf.get_y() + 5
        w, h = pdf.w - pdf.l_margin - pdf.r_margin - 150, 90
        for i in range(rng.randint(4, 9)):
            gx = x0 + i * w / 8
            pdf.line(gx, y0, gx, y0 + h)
        for j in range(rng.randint(3, 6)):
            gy = y0 + j * h / 5
            pdf.line(x0, gy, x0 + w, gy)
        for _ in range(rng.randint(3, 8)):
            pdf.rect(x0 + rng.uniform(0, w - 20), y0 + rng.uniform(0, h - 15), rng.uniform(5, 20), rng.uniform(4, 15))
        pdf.set_draw_color(0, 0, 0)

    def draw(self, block: Block) -> None:
        b, rng = self.base, self.rng
        k = block.kind
        if k == "redhead":
            self.line(block.text, b * 2.0, "C", bold=True, color=(210, 0, 0))
        elif k == "subtitle":
            self.line(block.text, b, "C")
            if self.layout == "redhead":
                y = self.pdf.get_y() + 1.5
                self.pdf.set_draw_color(210, 0, 0)
                self.pdf.set_line_width(0.8)
                self.pdf.line(self.pdf.l_margin, y, self.pdf.w - self.pdf.r_margin, y)
                self.pdf.set_line_width(0.2)
                self.pdf.set_draw_color(0, 0, 0)
                self.pdf.ln(4)
        elif k == "letterhead":
            self.line(block.text, b * rng.choice((1.1, 1.3, 1.5)), "C", bold=rng.random() < 0.5)
            if rng.random() < 0.4:
                y = self.pdf.get_y() + 0.5
                self.pdf.line(self.pdf.l_margin, y, self.pdf.w - self.pdf.r_margin, y)
                self.pdf.ln(2)
        elif k == "title":
            self.pdf.ln(1.5)
            self.line(block.text, b * rng.choice((1.5, 1.7, 1.9)), "C", bold=self.bold_titles)
            self.pdf.ln(1.5)
        elif k == "meta":
            self.line(block.text, b * 0.9, "R" if rng.random() < 0.8 else "L")
        elif k == "heading":
            self.pdf.ln(1)
            self.line(block.text, b * 1.15, "L", bold=True)
        elif k == "row":
            self.row(block.cells, bordered=self.layout in ("form", "report", "log", "permit", "minutes", "plain")
                     and (self.layout != "plain" or rng.random() < 0.5))
        elif k == "sign":
            self.line("    ".join(c for c in block.cells if c), b, "R" if self.layout in ("redhead", "letter") else "L")
        elif k == "titleblock":
            self.title_block(block.cells)
        elif k == "stamp_note":
            self.stamp_box(block.cells)
        elif k == "footer":
            self.line("  ".join(c for c in block.cells if c), b * 0.8, "C", color=(80, 80, 80))
        else:
            self.line(block.text, b)


def _build_pdf(blocks: tuple[Block, ...], layout: str, font: Path, rng: random.Random) -> bytes:
    text = "".join(b.text for b in blocks)
    pdf = FPDF(orientation="L" if layout == "drawing" else "P", unit="mm",
               format="A3" if layout == "drawing" and rng.random() < 0.3 else "A4")
    pdf.set_creation_date(CREATION_DATE)
    pdf.set_producer("dangan samplegen")
    margin = rng.uniform(14, 25)
    pdf.set_margins(margin, rng.uniform(12, 22), margin)
    pdf.set_auto_page_break(True, margin=rng.uniform(12, 20))
    _install_font(pdf, font, text)
    pdf.add_page()
    lay = _Layout(pdf, rng, layout)
    if layout == "drawing":
        lay.drawing_lines()
        pdf.set_y(pdf.get_y() + 100)
    for block in blocks:
        lay.draw(block)
    return bytes(pdf.output())


def render_pdf_bytes(doc: SampleDoc, *, font: Path | str | None = None, rng: random.Random | None = None) -> bytes:
    """The text PDF of ``doc`` as bytes (see :func:`render_pdf`)."""
    rng = rng or random.Random(f"pdf:{doc.seed_key}")
    font = Path(font) if font else rng.choice(FONTS)
    return _build_pdf(doc.blocks, doc.layout, font, rng)


def render_pdf(doc: SampleDoc, path: Path | str, *, font: Path | str | None = None,
               rng: random.Random | None = None) -> Path:
    """Write ``doc`` as a born-digital PDF with a text layer (forms get bordered tables, 红头 a red head).

    The creation date is fixed, so the same doc, font and rng give byte-identical files.
    """
    path = Path(path)
    path.write_bytes(render_pdf_bytes(doc, font=font, rng=rng))
    return path


# --- raster --------------------------------------------------------------------------------------

def rasterize(pdf_bytes: bytes, dpi: int = SCAN_DPI) -> list[Image.Image]:
    """Grayscale page images of a PDF, as a flatbed scanner would deliver them."""
    doc = pdfium.PdfDocument(pdf_bytes)
    try:
        pages = []
        for page in doc:
            bitmap = page.render(scale=dpi / 72, grayscale=True)
            pages.append(bitmap.to_pil().convert("L"))
            page.close()
        return pages
    finally:
        doc.close()


@cache
def _stamp_font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS[1] if FONTS[1].exists() else FONTS[0]), size, index=0)


def add_stamp(img: Image.Image, rng: random.Random, text: str) -> Image.Image:
    """A round red (or gray) seal with a star and ring text, multiplied over the page like ink."""
    rgb = img.convert("RGB")
    w, h = rgb.size
    r = int(min(w, h) * rng.uniform(0.08, 0.12))
    # Seals sit on the signature, i.e. over the last printed lines, partly covering text.
    ink_rows = np.flatnonzero(np.asarray(img.convert("L")).min(axis=1) < 128)
    bottom = int(ink_rows[-1]) if ink_rows.size else int(h * 0.6)
    cx = int(w * rng.uniform(0.55, 0.8))
    cy = int(min(h - r - 2, max(r + 2, bottom - r * rng.uniform(0.0, 0.8))))
    layer = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(layer)
    d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=255, width=max(4, r // 14))
    star = [(cx + r * 0.28 * math.cos(math.pi / 2 + i * 4 * math.pi / 5), cy - r * 0.28 * math.sin(math.pi / 2 + i * 4 * math.pi / 5))
            for i in range(5)]
    d.polygon(star, fill=255)
    font = _stamp_font(max(12, r // 5))
    chars = text[:18] or "专用章"
    span = math.radians(250)
    for i, ch in enumerate(chars):
        a = math.radians(215) - span * i / max(1, len(chars) - 1)
        x = cx + (r * 0.72) * math.cos(a)
        y = cy - (r * 0.72) * math.sin(a)
        d.text((x, y), ch, fill=255, font=font, anchor="mm")
    if rng.random() < 0.5:  # faded, patchy ink
        noise = np.asarray(layer, dtype=np.float32) * np.random.default_rng(rng.randrange(2**32)).uniform(0.5, 1.0, (h, w))
        layer = Image.fromarray(noise.astype(np.uint8))
    color = (200, 30, 40) if rng.random() < 0.8 else (110, 110, 110)
    arr = np.asarray(rgb, dtype=np.float32)
    alpha = np.asarray(layer, dtype=np.float32)[..., None] / 255.0 * rng.uniform(0.6, 0.9)
    ink = np.array(color, dtype=np.float32)
    out = arr * (1 - alpha) + (arr * ink / 255.0) * alpha
    return Image.fromarray(out.clip(0, 255).astype(np.uint8))


def degrade(img: Image.Image, rng: random.Random, *, stamp_text: str = "", keep_color: bool = False) -> Image.Image:
    """Legacy-scan damage: stamp, skew, blur, noise, low contrast and JPEG artefacts."""
    np_rng = np.random.default_rng(rng.randrange(2**32))
    if stamp_text and rng.random() < 0.85:
        img = add_stamp(img, rng, stamp_text)
    color = keep_color and img.mode == "RGB"
    img = img if color else img.convert("L")
    angle = rng.choice((-1, 1)) * rng.uniform(1.0, 3.0)
    fill = (255, 255, 255) if img.mode == "RGB" else 255
    img = img.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=fill)
    arr = np.asarray(img, dtype=np.float32)
    sigma = rng.uniform(0.4, 1.3)
    arr = cv2.GaussianBlur(arr, (0, 0), sigma)
    lo, hi = rng.uniform(20, 70), rng.uniform(190, 240)  # low contrast: black is gray, white is off-white
    arr = lo + arr * (hi - lo) / 255.0
    arr += np_rng.normal(0, rng.uniform(3, 12), arr.shape)
    if rng.random() < 0.5:  # salt-and-pepper dust
        mask = np_rng.random(arr.shape[:2]) < rng.uniform(0.0005, 0.003)
        arr[mask] = 30
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=rng.randint(20, 45))
    return Image.open(io.BytesIO(buf.getvalue())).convert(img.mode)


def phone_photo(img: Image.Image, rng: random.Random) -> Image.Image:
    """A page photographed on a desk: perspective, uneven light, colour cast, background."""
    np_rng = np.random.default_rng(rng.randrange(2**32))
    page = np.asarray(img.convert("RGB"), dtype=np.float32)
    h, w = page.shape[:2]
    pad = int(0.08 * max(w, h))
    canvas_w, canvas_h = w + 2 * pad, h + 2 * pad
    bg = np.array([rng.uniform(60, 140), rng.uniform(50, 120), rng.uniform(40, 100)], dtype=np.float32)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jit = lambda: rng.uniform(-0.05, 0.05) * w  # noqa: E731
    dst = np.float32([[pad + jit(), pad + jit()], [pad + w + jit(), pad + jit()],
                      [pad + w + jit(), pad + h + jit()], [pad + jit(), pad + h + jit()]])
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(page, m, (canvas_w, canvas_h), borderMode=cv2.BORDER_CONSTANT, borderValue=bg.tolist())
    yy, xx = np.mgrid[0:canvas_h, 0:canvas_w].astype(np.float32)
    gx, gy = rng.uniform(0, canvas_w), rng.uniform(0, canvas_h)
    light = 1.0 - rng.uniform(0.15, 0.4) * (np.hypot(xx - gx, yy - gy) / np.hypot(canvas_w, canvas_h))
    cast = np.array([rng.uniform(0.95, 1.05), rng.uniform(0.93, 1.0), rng.uniform(0.8, 0.95)], dtype=np.float32)
    out = warped * light[..., None] * cast
    out += np_rng.normal(0, 4, out.shape)
    out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.2))
    photo = Image.fromarray(out.clip(0, 255).astype(np.uint8))
    return photo.resize((int(canvas_w * 0.9), int(canvas_h * 0.9)), Image.Resampling.BILINEAR)


_SEAL_SUFFIX = {"检测机构": "检测专用章", "监理单位": "项目监理部"}


def _stamp_text(doc: SampleDoc) -> str:
    """Seal text: the name of a party printed on the document, as its real seal would read."""
    for role in ("监理单位", "施工单位", "建设单位", "检测机构", "设计单位"):
        if role in doc.units:
            return doc.units[role] + _SEAL_SUFFIX.get(role, "")
    return "工程专用章"


def _save_images(pages: list[Image.Image], path: Path, fmt: ScanFormat, rng: random.Random) -> None:
    if fmt == "pdf":
        first, rest = pages[0], pages[1:]
        first.save(path, "PDF", resolution=SCAN_DPI, save_all=True, append_images=rest, title="scan",
                   creationDate=_PIL_DATE, modDate=_PIL_DATE,
                   quality=rng.randint(45, 70))
    elif fmt == "png":
        pages[0].save(path, "PNG", optimize=False, compress_level=6)
    elif fmt == "jpg":
        pages[0].save(path, "JPEG", quality=rng.randint(55, 80), dpi=(SCAN_DPI, SCAN_DPI))
    elif fmt == "tiff":
        pages[0].save(path, "TIFF", save_all=True, append_images=pages[1:], compression="tiff_deflate",
                      dpi=(SCAN_DPI, SCAN_DPI))
    else:
        raise ValueError(f"unknown scan format {fmt!r}")


def render_scan(doc: SampleDoc, path: Path | str, *, degraded: bool, fmt: ScanFormat = "pdf",
                rng: random.Random | None = None, font: Path | str | None = None) -> Path:
    """Write ``doc`` as an image-only scan at 200 dpi grayscale (``pdf`` has no text layer).

    ``degraded`` adds a seal over the text, 1–3° skew, blur, noise, low contrast and JPEG
    artefacts. PNG and JPEG hold page 1 only; PDF and TIFF hold every page.
    """
    path = Path(path)
    rng = rng or random.Random(f"scan:{doc.seed_key}")
    pages = rasterize(render_pdf_bytes(doc, font=font, rng=rng))
    if degraded:
        stamp = _stamp_text(doc)
        keep_color = fmt in ("jpg", "png") or rng.random() < 0.3
        pages = [degrade(p, rng, stamp_text=stamp if i == len(pages) - 1 else "", keep_color=keep_color)
                 for i, p in enumerate(pages)]
    _save_images(pages, path, fmt, rng)
    return path


def render_photo(doc: SampleDoc, path: Path | str, *, rng: random.Random | None = None,
                 orientation: Literal[3, 6, 8] | None = None) -> Path:
    """A phone photo (JPEG) of page 1, stored rotated with the EXIF Orientation tag that undoes it.

    A reader that ignores EXIF sees the page sideways or upside down; one that honours it sees it upright.
    """
    path = Path(path)
    rng = rng or random.Random(f"photo:{doc.seed_key}")
    page = rasterize(render_pdf_bytes(doc, rng=rng), dpi=150)[0]
    photo = phone_photo(add_stamp(page, rng, _stamp_text(doc)) if rng.random() < 0.6 else page, rng)
    orientation = orientation or rng.choice((6, 8, 3))
    # Orientation 6 means "rotate 90° clockwise to display": store the upright image turned counter-clockwise.
    stored = photo.transpose({6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270,
                              3: Image.Transpose.ROTATE_180}[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Xiaomi"  # Make
    exif[0x0110] = "Redmi Note 12"  # Model
    stored.save(path, "JPEG", quality=rng.randint(70, 85), exif=exif.tobytes())
    return path


def render_mixed(doc: SampleDoc, path: Path | str, *, rng: random.Random | None = None) -> Path:
    """A two-page PDF: page 1 born-digital with a text layer, page 2 an image-only scan."""
    from pypdf import PdfReader, PdfWriter

    path = Path(path)
    rng = rng or random.Random(f"mixed:{doc.seed_key}")
    blocks = doc.blocks
    half = max(1, len(blocks) // 2)
    font = rng.choice(FONTS)
    first = _build_pdf(blocks[:half], doc.layout, font, rng)
    second = _build_pdf(blocks[half:] or blocks[-1:], doc.layout, font, rng)
    images = [degrade(p, rng) if rng.random() < 0.5 else p for p in rasterize(second)[:1]]
    buf = io.BytesIO()
    images[0].save(buf, "PDF", resolution=SCAN_DPI, title="scan", quality=60, creationDate=_PIL_DATE,
                   modDate=_PIL_DATE)
    writer = PdfWriter()
    writer.add_page(PdfReader(io.BytesIO(first)).pages[0])
    writer.add_page(PdfReader(io.BytesIO(buf.getvalue())).pages[0])
    with path.open("wb") as fh:
        writer.write(fh)
    return path
