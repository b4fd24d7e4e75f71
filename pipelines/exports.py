"""Exports of a run's ``FileResult`` records: Parquet, the 卷内目录 workbook, and the run report.

``results.jsonl`` / ``results.csv`` stay in ``pipelines.results``; this module adds

* :func:`write_parquet` — one row per file, typed columns named as in ``results.csv``, nested values
  (units, candidates, keywords, warnings) as Arrow lists/structs so pandas and DuckDB can query them;
* :func:`write_volume_catalogue` — an ``.xlsx`` 卷内目录 per project as archive offices hand it in
  (序号, 文件编号, 责任者, 文件题名, 日期, 页次, 备注, in catalogue order), plus a 待处理 work list;
* :func:`write_run_report` — the operator's report in Markdown or HTML (same content);
* :func:`write_exports` — all of the above into a run's output folder.

Every writer goes through a ``.part`` file and ``os.replace``, so a reader never sees half a file.
Nothing is invented: a value the pipeline did not find is an empty cell.
"""

from __future__ import annotations

import html
import os
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from models.catalogue import Catalogue, load_catalogue
from models.knowledge import ItemKnowledge, load_knowledge
from pipelines.results import FileResult

__all__ = [
    "EXPORT_NAMES",
    "NO_PROJECT_SHEET",
    "PARQUET_COLUMNS",
    "PENDING_COLUMNS",
    "PENDING_SHEET",
    "VOLUME_COLUMNS",
    "RunMeta",
    "Volume",
    "VolumeRow",
    "archive_date",
    "preload",
    "render_run_report",
    "responsible_unit",
    "sheet_title",
    "volume_rows",
    "write_exports",
    "write_parquet",
    "write_run_report",
    "write_volume_catalogue",
]


def _atomic_write_bytes(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    try:
        with tmp.open("wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def preload() -> None:
    """Import the writers' libraries and load the catalogue and knowledge (≈1 s, all cached). The
    flow calls this while its workers start, so that the end of a run does not wait for it."""
    import openpyxl  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    load_catalogue()
    load_knowledge()


# =========================================================================================== Parquet
PARQUET_COLUMNS = [
    "file", "sha256", "status", "error_code", "error_message", "pages", "text_source", "ocr_confidence",
    "stage", "class_code", "class_name", "item_code", "item_name", "confidence", "class_confidence", "route",
    "out_of_catalogue", "model_version", "project_name", "doc_number", "doc_date", "units", "discipline",
    "keywords", "candidates", "warnings", "seconds",
]


def _parquet_schema():  # type: ignore[no-untyped-def]
    import pyarrow as pa

    s = pa.string()
    return pa.schema([
        ("file", s), ("sha256", s), ("status", s), ("error_code", s), ("error_message", s),
        ("pages", pa.int32()), ("text_source", s), ("ocr_confidence", pa.float64()),
        ("stage", s), ("class_code", s), ("class_name", s), ("item_code", s), ("item_name", s),
        ("confidence", pa.float64()), ("class_confidence", pa.float64()), ("route", s),
        ("out_of_catalogue", pa.bool_()), ("model_version", s), ("project_name", s), ("doc_number", s),
        ("doc_date", pa.date32()),
        ("units", pa.list_(pa.struct([("role", s), ("name", s)]))),
        ("discipline", s), ("keywords", pa.list_(s)),
        ("candidates", pa.list_(pa.struct([("item_code", s), ("item_name", s), ("confidence", pa.float64())]))),
        ("warnings", pa.list_(s)), ("seconds", pa.float64()),
    ])


def _iso_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def _parquet_row(r: FileResult) -> dict[str, Any]:
    t = r.tags
    return {
        "file": r.file, "sha256": r.sha256, "status": r.status,
        "error_code": r.error.code if r.error else None, "error_message": r.error.message if r.error else None,
        "pages": r.pages, "text_source": r.text_source, "ocr_confidence": r.ocr_confidence,
        "stage": r.stage, "class_code": r.class_code, "class_name": r.class_name,
        "item_code": r.item_code, "item_name": r.item_name, "confidence": r.confidence,
        "class_confidence": r.class_confidence, "route": r.route, "out_of_catalogue": r.out_of_catalogue,
        "model_version": r.model_version, "project_name": t.project_name, "doc_number": t.doc_number,
        "doc_date": _iso_date(t.doc_date),
        "units": [{"role": u.role, "name": u.name} for u in t.units],
        "discipline": t.discipline, "keywords": list(t.keywords),
        "candidates": [{"item_code": c.item_code, "item_name": c.item_name, "confidence": c.confidence}
                       for c in r.candidates],
        "warnings": list(r.warnings), "seconds": r.seconds,
    }


def write_parquet(path: Path, results: Iterable[FileResult]) -> None:
    """One row per file (input order), columns :data:`PARQUET_COLUMNS`.

    Same names as ``results.csv`` but typed: missing values are nulls (not ``""``), ``doc_date`` is a
    DATE, ``units``/``candidates`` are lists of structs and ``keywords``/``warnings`` lists of strings
    (pandas: arrays of dicts/strings; DuckDB: ``UNNEST(candidates)``). Confidences are not rounded.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _parquet_schema()
    rows = [_parquet_row(r) for r in results]
    table = pa.Table.from_pylist(rows, schema=schema)
    _atomic_write_bytes(Path(path), lambda fh: pq.write_table(table, fh, compression="zstd"))


# ============================================================================= 卷内目录 (xlsx)
VOLUME_COLUMNS = ["序号", "文件编号", "责任者", "文件题名", "日期", "页次", "备注"]
PENDING_COLUMNS = ["序号", "文件", "工程名称", "建议条目", "文件编号", "日期", "页数", "备注"]
PENDING_SHEET = "待处理"
NO_PROJECT_SHEET = "未识别工程"
_VOLUME_WIDTHS = [6, 22, 30, 46, 11, 10, 22]
_PENDING_WIDTHS = [6, 46, 28, 34, 20, 11, 7, 48]

REMARK_CLASS_ONLY = "待审核（条目待定）"  # class certain, item not
REMARK_REVIEW = "待审核"
REMARK_OUT_OF_CATALOGUE = "未识别（目录外文件）"

_SHEET_FORBIDDEN = re.compile(r"[:\\/?*\[\]]")
_SHEET_MAX = 31


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def _clip_utf16(s: str, limit: int) -> str:
    while _utf16_len(s) > limit:
        s = s[:-1]
    return s


def sheet_title(name: str, used: set[str]) -> str:
    """``name`` as a valid, unused Excel sheet name; records it (case-folded) in ``used``.

    Excel: at most 31 characters (UTF-16 units), none of ``: \\ / ? * [ ]``, not starting or ending
    with an apostrophe, not "History", unique ignoring case. Duplicates get ``~2``, ``~3``…
    """
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    base = ILLEGAL_CHARACTERS_RE.sub("", _SHEET_FORBIDDEN.sub("_", name))
    base = re.sub(r"\s+", " ", base).strip().strip("'").strip()
    if not base:
        base = "未命名"
    if base.casefold() == "history":
        base += "_"
    base = _clip_utf16(base, _SHEET_MAX).rstrip("'")
    title, n = base, 2
    while title.casefold() in used:
        suffix = f"~{n}"
        title = _clip_utf16(base, _SHEET_MAX - len(suffix)).rstrip("'") + suffix
        n += 1
    used.add(title.casefold())
    return title


def archive_date(value: str | None) -> str:
    """ISO ``2019-05-12`` → ``20190512`` (the 卷内目录 convention); ``""`` when not a date."""
    d = _iso_date(value)
    return d.strftime("%Y%m%d") if d else ""


def responsible_unit(r: FileResult, knowledge: Mapping[str, ItemKnowledge]) -> str:
    """责任者: the unit that issued the document, or ``""`` when the tags do not name it.

    The item's ``issuer`` role (knowledge files) is looked up in ``tags.units``. The first unit found
    stands in only when the knowledge names no issuer for the item: when the issuer is known but not
    among the units (e.g. a 检测机构 report that names only the 施工单位 as client), any other unit would
    be the wrong 责任者, so the cell stays empty.
    """
    units = r.tags.units
    if not units:
        return ""
    k = knowledge.get(r.item_code or "")
    issuer = k.issuer if k else ""
    if issuer:
        return next((u.name for u in units if u.role == issuer), "")
    return units[0].name


def _project_key(name: str | None) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name or ""))


def _in_volume(r: FileResult, catalogue: Catalogue) -> bool:
    return r.status == "ok" and not r.out_of_catalogue and bool(r.item_code) and r.item_code in catalogue


def _documents(r: FileResult) -> list[FileResult]:
    """A multi-document file as one record per part (its pages, its label); tags stay the file's."""
    if not r.parts:
        return [r]
    return [
        r.model_copy(update={
            "file": f"{r.file}#p{p.first_page}-{p.last_page}", "pages": p.last_page - p.first_page + 1,
            "item_code": p.item_code, "item_name": p.item_name, "class_code": p.class_code,
            "confidence": p.confidence, "class_confidence": p.class_confidence, "route": p.route,
            "out_of_catalogue": p.out_of_catalogue, "parts": [],
        })
        for p in r.parts
    ]


def _remark(r: FileResult) -> str:
    if r.status != "ok":
        return f"错误 {r.error.code}：{r.error.message}" if r.error else "错误"
    if r.out_of_catalogue:
        return REMARK_OUT_OF_CATALOGUE
    if r.route == "class":
        return REMARK_CLASS_ONLY
    if r.route == "review":
        return REMARK_REVIEW
    return ""


@dataclass(frozen=True)
class VolumeRow:
    """One line of a 卷内目录 (values exactly as written), with the result it came from."""

    seq: int
    doc_number: str
    responsible: str
    title: str
    date: str
    pages: str
    remark: str
    result: FileResult

    def cells(self) -> list[object]:
        return [self.seq, self.doc_number, self.responsible, self.title, self.date, self.pages, self.remark]


@dataclass(frozen=True)
class Volume:
    project: str  # the 工程名称 as found ("" for documents without one)
    rows: list[VolumeRow]


def volume_rows(
    results: Iterable[FileResult],
    catalogue: Catalogue | None = None,
    knowledge: Mapping[str, ItemKnowledge] | None = None,
) -> tuple[list[Volume], list[FileResult]]:
    """(volumes by project, documents not filed). Volumes in input order of first appearance, unnamed last.

    Rows follow catalogue order (stage, class, item position), then date (undated last), 文件编号 and
    file name. 页次 is cumulative in the volume: each document's first page, the last one ``start-end``;
    after a document whose page count is unknown the numbering cannot go on, so later cells are empty.
    """
    catalogue = catalogue or load_catalogue()
    knowledge = load_knowledge() if knowledge is None else knowledge
    order = {code: catalogue.order_key(code) for code in catalogue.codes}
    groups: dict[str, list[FileResult]] = defaultdict(list)
    shown: dict[str, str] = {}
    pending: list[FileResult] = []
    for r in (d for result in results for d in _documents(result)):
        if not _in_volume(r, catalogue):
            pending.append(r)
            continue
        key = _project_key(r.tags.project_name)
        groups[key].append(r)
        shown.setdefault(key, (r.tags.project_name or "").strip())

    def sort_key(r: FileResult) -> tuple:
        d = _iso_date(r.tags.doc_date)
        return (order[r.item_code], d is None, d or date.min, r.tags.doc_number or "", r.file)  # type: ignore[index]

    volumes = []
    for key in sorted(groups, key=lambda k: k == ""):  # input order of first appearance, unnamed last
        docs = sorted(groups[key], key=sort_key)
        rows, cursor = [], 1
        for i, r in enumerate(docs, start=1):
            pages = r.pages if r.pages and r.pages > 0 else None
            if cursor is None:
                page_cell = ""
            elif i == len(docs):
                page_cell = f"{cursor}-{cursor + pages - 1}" if pages else str(cursor)
            else:
                page_cell = str(cursor)
            cursor = cursor + pages if (cursor is not None and pages) else None
            title = getattr(r, "title", None) or r.item_name or catalogue[r.item_code].name  # type: ignore[index]
            rows.append(VolumeRow(
                seq=i, doc_number=r.tags.doc_number or "", responsible=responsible_unit(r, knowledge),
                title=title, date=archive_date(r.tags.doc_date), pages=page_cell, remark=_remark(r), result=r,
            ))
        volumes.append(Volume(project=shown[key], rows=rows))
    return volumes, pending


def _text(value: object) -> object:
    """A cell value openpyxl will store as typed: no control characters, never a formula."""
    if not isinstance(value, str):
        return value
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", value)


def _put(ws, row: int, col: int, value: object):  # type: ignore[no-untyped-def]
    if value == "":
        value = None  # unknown: an empty cell, not an empty string
    cell = ws.cell(row=row, column=col, value=_text(value))
    if isinstance(value, str):
        cell.data_type = "s"  # OCR text such as "=A1" must not become a formula
    return cell


def _setup_sheet(ws, title: str, columns: list[str], widths: list[int], landscape: bool) -> None:  # type: ignore[no-untyped-def]
    from openpyxl.utils import get_column_letter

    last = get_column_letter(len(columns))
    ws.merge_cells(f"A1:{last}1")
    _put(ws, 1, 1, title).style = _TITLE_STYLE
    ws.row_dimensions[1].height = 28
    for col, name in enumerate(columns, start=1):
        _put(ws, 2, col, name).style = _HEAD_STYLE
        ws.column_dimensions[get_column_letter(col)].width = widths[col - 1]
    ws.freeze_panes = "A3"
    ws.print_title_rows = "1:2"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE if landscape else ws.ORIENTATION_PORTRAIT
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.oddFooter.center.text = "第 &P 页 共 &N 页"


_TITLE_STYLE = "dangan_title"
_HEAD_STYLE = "dangan_head"
_BODY_STYLES = ("dangan_body", "dangan_body_wrap", "dangan_body_center")


def _add_styles(wb) -> None:  # type: ignore[no-untyped-def]
    """Named styles for every formatted cell, registered once per workbook: a cell then takes its
    style by name, while separate Font/Border/Alignment objects cost ~1 ms per cell (one workbook
    can hold hundreds of project sheets)."""
    from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side

    thin = Side(style="thin", color="000000")
    title = NamedStyle(name=_TITLE_STYLE)
    title.font = Font(bold=True, size=14)
    title.alignment = Alignment(horizontal="center", vertical="center")
    wb.add_named_style(title)
    head = NamedStyle(name=_HEAD_STYLE)
    head.font = Font(bold=True)
    head.fill = PatternFill("solid", fgColor="D9D9D9")
    head.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    head.border = Border(left=thin, right=thin, top=thin, bottom=thin)
    wb.add_named_style(head)
    for name, wrap, horizontal in zip(_BODY_STYLES, (False, True, False), (None, None, "center")):
        style = NamedStyle(name=name)
        style.border = Border(left=thin, right=thin, top=thin, bottom=thin)
        style.alignment = Alignment(vertical="center", wrap_text=wrap, horizontal=horizontal)
        wb.add_named_style(style)


def _body_row(ws, row: int, values: Sequence[object], wrap: set[int], center: set[int]) -> None:  # type: ignore[no-untyped-def]
    plain, wrapped, centred = _BODY_STYLES
    for col, value in enumerate(values, start=1):
        number_format = "@" if isinstance(value, str) and value else None
        cell = _put(ws, row, col, value)
        cell.style = wrapped if col in wrap else centred if col in center else plain
        if number_format:
            cell.number_format = number_format


def write_volume_catalogue(
    path: Path,
    results: Iterable[FileResult],
    catalogue: Catalogue | None = None,
    *,
    knowledge: Mapping[str, ItemKnowledge] | None = None,
    source_comments: bool = True,
) -> None:
    """The 卷内目录 workbook: one sheet per project, then the 待处理 sheet.

    A project sheet: title row ``卷内目录 — <工程名称>``, header :data:`VOLUME_COLUMNS`, one row per filed
    document (status ok with a catalogue item; see :func:`volume_rows`). 备注 flags documents a reviewer
    still has to confirm. Documents without 工程名称 go to the sheet ``未识别工程``. ``source_comments``
    puts the source file path as a cell comment on 文件题名 (comments are not printed).

    待处理 (:data:`PENDING_COLUMNS`): what needs a person — errors, out-of-catalogue documents, and the
    filed documents still to be reviewed (route review / class), with where they were filed.
    """
    from openpyxl import Workbook
    from openpyxl.comments import Comment

    catalogue = catalogue or load_catalogue()
    results = list(results)
    volumes, unfiled = volume_rows(results, catalogue, knowledge)

    wb = Workbook()
    wb.remove(wb.active)
    _add_styles(wb)
    used: set[str] = {PENDING_SHEET.casefold()}
    where: dict[int, str] = {}  # id(result) -> "sheet 第n号"
    for vol in volumes:
        name = vol.project or NO_PROJECT_SHEET
        ws = wb.create_sheet(sheet_title(name, used))
        _setup_sheet(ws, f"卷内目录 — {vol.project}" if vol.project else f"卷内目录 — （{NO_PROJECT_SHEET}）",
                     VOLUME_COLUMNS, _VOLUME_WIDTHS, landscape=False)
        for i, row in enumerate(vol.rows, start=3):
            _body_row(ws, i, row.cells(), wrap={2, 3, 4, 7}, center={1, 5, 6})
            if source_comments:
                ws.cell(row=i, column=4).comment = Comment(f"来源文件：{_text(row.result.file)}", "dangan")
            if row.remark:
                where[id(row.result)] = f"{ws.title} 第{row.seq}号"
        if vol.rows:
            ws.auto_filter.ref = f"A2:G{len(vol.rows) + 2}"

    ws = wb.create_sheet(PENDING_SHEET)
    _setup_sheet(ws, "待处理 — 错误、目录外文件与待审核文件", PENDING_COLUMNS, _PENDING_WIDTHS, landscape=True)

    def rank(r: FileResult) -> int:
        return 0 if r.status != "ok" else 1 if r.out_of_catalogue or not _in_volume(r, catalogue) else 2

    to_review = [row.result for vol in volumes for row in vol.rows if row.remark]
    todo = sorted(unfiled, key=rank) + to_review  # stable: input order within each kind
    for i, r in enumerate(todo, start=1):
        if r.status == "ok" and not r.out_of_catalogue and not _in_volume(r, catalogue):
            remark = f"条目不在目录中：{r.item_code}" if r.item_code else "未分类"
        else:
            remark = _remark(r)
        if id(r) in where:
            remark = f"{remark}（已编入 {where[id(r)]}）"
        suggested = f"{r.item_code} {r.item_name or ''}".strip() if r.item_code else ""
        _body_row(ws, i + 2, [
            i, r.file, (r.tags.project_name or "").strip(), suggested, r.tags.doc_number or "",
            archive_date(r.tags.doc_date), r.pages if r.pages is not None else "", remark,
        ], wrap={2, 3, 4, 8}, center={1, 6, 7})
    if todo:
        ws.auto_filter.ref = f"A2:H{len(todo) + 2}"
    wb.active = 0
    _atomic_write_bytes(Path(path), lambda fh: _save_workbook(wb, fh))


def _save_workbook(wb, fh: IO[bytes]) -> None:  # type: ignore[no-untyped-def]
    """``wb.save(fh)``, but each worksheet is serialised in memory. openpyxl writes every sheet to a
    temporary file and deletes it, which costs milliseconds per sheet on some file systems (ext4
    with online discard: 3–4 ms), and a run's workbook can hold hundreds of project sheets."""
    from datetime import timezone
    from io import BytesIO
    from zipfile import ZIP_DEFLATED, ZipFile

    from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
    from openpyxl.worksheet._writer import WorksheetWriter
    from openpyxl.writer.excel import ExcelWriter

    class InMemoryWriter(ExcelWriter):  # ExcelWriter.write_worksheet of openpyxl 3.1, minus the file
        def write_worksheet(self, ws):  # type: ignore[no-untyped-def]
            ws._drawing = SpreadsheetDrawing()
            ws._drawing.charts = ws._charts
            ws._drawing.images = ws._images
            writer = WorksheetWriter(ws, out=BytesIO())
            writer.write()
            ws._rels = writer._rels
            self._archive.writestr(ws.path[1:], writer.read())
            self.manifest.append(ws)

    wb.properties.modified = datetime.now(tz=timezone.utc).replace(tzinfo=None)
    InMemoryWriter(wb, ZipFile(fh, "w", ZIP_DEFLATED, allowZip64=True)).save()


# ============================================================================= run report
@dataclass(frozen=True)
class RunMeta:
    """What the report says about the run besides the results themselves."""

    model_version: str | None = None  # None: taken from the results
    seconds: float | None = None  # wall time of the run
    started_at: datetime | None = None
    finished_at: datetime | None = None
    resumed: int = 0  # files already recorded by an earlier run (skipped, results reused)
    inputs: tuple[str, ...] = ()
    out_dir: str | None = None
    catalogue_sha256: str | None = None
    extra: Mapping[str, object] = field(default_factory=dict)  # e.g. workers, OCR engine, dangan version


@dataclass
class _Table:
    headers: list[str]
    rows: list[list[object]]
    align_right: set[int] = field(default_factory=set)


@dataclass
class _Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    table: _Table | None = None


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f}%" if d else "–"


def _fmt_seconds(s: float) -> str:
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(round(s), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d} min"


def _report_sections(
    results: list[FileResult], meta: RunMeta, catalogue: Catalogue, *, slowest: int = 10, examples: int = 3
) -> tuple[str, list[_Section]]:
    ok = [r for r in results if r.status == "ok"]
    errors = [r for r in results if r.status != "ok"]
    pages = sum(r.pages or 0 for r in results)
    ooc = [r for r in ok if r.out_of_catalogue]
    auto = sum(r.route == "auto" for r in ok)
    class_only = sum(r.route == "class" for r in ok)
    review = sum(r.route == "review" and not r.out_of_catalogue for r in ok)
    versions = Counter(r.model_version for r in results if r.model_version)
    model = meta.model_version or (", ".join(versions) if versions else "–")
    per_file = sum(r.seconds for r in results)

    sections: list[_Section] = []
    run_rows: list[list[object]] = [["模型版本 model version", model]]
    if meta.model_version and set(versions) - {meta.model_version}:
        run_rows.append(["结果中的其他模型版本", ", ".join(sorted(set(versions) - {meta.model_version}))])
    if meta.started_at:
        run_rows.append(["开始 started", meta.started_at.isoformat(timespec="seconds")])
    if meta.finished_at:
        run_rows.append(["结束 finished", meta.finished_at.isoformat(timespec="seconds")])
    if meta.seconds is not None:
        rate = f" ({len(results) / meta.seconds * 60:.1f} files/min, {pages / meta.seconds:.2f} pages/s)" \
            if meta.seconds > 0 else ""
        run_rows.append(["用时 duration (wall)", _fmt_seconds(meta.seconds) + rate])
    run_rows.append(["各文件处理时间合计 sum of per-file seconds", _fmt_seconds(per_file)])
    if meta.inputs:
        run_rows.append(["输入 inputs", "; ".join(meta.inputs)])
    if meta.out_dir:
        run_rows.append(["输出 output", meta.out_dir])
    run_rows.append(["目录 catalogue sha256", (meta.catalogue_sha256 or catalogue.sha256)[:16]])
    for k, v in meta.extra.items():
        run_rows.append([str(k), str(v)])
    sections.append(_Section("运行 Run", table=_Table(["", ""], run_rows)))

    n, k = len(results), len(ok)
    summary = [
        ["文件 files", n, ""],
        ["  其中续跑 already recorded, skipped", meta.resumed, _pct(meta.resumed, n)],
        ["页数 pages", pages, ""],
        ["成功 ok", k, _pct(k, n)],
        ["错误 errors", len(errors), _pct(len(errors), n)],
        ["自动归档 auto (item filed)", auto, _pct(auto, k)],
        ["仅分类 class-only (item to review)", class_only, _pct(class_only, k)],
        ["待审核 review", review, _pct(review, k)],
        ["目录外 out-of-catalogue (to review)", len(ooc), _pct(len(ooc), k)],
    ]
    sections.append(_Section(
        "概况 Summary", ["Shares of auto / class-only / review / out-of-catalogue are of the ok files."],
        _Table(["", "count", "share"], summary, {1, 2}),
    ))

    by_code: dict[str, list[FileResult]] = defaultdict(list)
    for r in errors:
        by_code[r.error.code if r.error else "unknown"].append(r)
    if by_code:
        rows = []
        for code, rs in sorted(by_code.items(), key=lambda x: (-len(x[1]), x[0])):
            msg = rs[0].error.message if rs[0].error else ""
            rows.append([code, len(rs), ", ".join(r.file for r in rs[:examples]), msg])
        sections.append(_Section("错误 Errors by code", table=_Table(["code", "files", "examples", "first message"],
                                                                     rows, {1})))
    else:
        sections.append(_Section("错误 Errors by code", ["No errors."]))

    slow = sorted(results, key=lambda r: -r.seconds)[:slowest]
    sections.append(_Section(f"最慢文件 Slowest {len(slow)} files", table=_Table(
        ["file", "seconds", "pages", "text source", "status"],
        [[r.file, f"{r.seconds:.2f}", r.pages if r.pages is not None else "", r.text_source or "",
          r.status if r.status == "ok" else f"error: {r.error.code if r.error else ''}"] for r in slow],
        {1, 2},
    )))

    classes: dict[str, Counter] = defaultdict(Counter)
    for r in ok:
        if r.class_code:
            classes[r.class_code][r.route or "none"] += 1
            classes[r.class_code]["files"] += 1
            classes[r.class_code]["pages"] += r.pages or 0
    known = catalogue.class_codes
    class_rows = []
    for c in sorted(classes, key=lambda c: (known.index(c) if c in known else len(known), c)):
        name = catalogue.class_name(c) if c in known else next(
            (r.class_name for r in ok if r.class_code == c and r.class_name), "")
        cnt = classes[c]
        class_rows.append([c, name, cnt["files"], cnt["pages"], cnt["auto"], cnt["class"], cnt["review"]])
    if ooc:
        class_rows.append(["–", "目录外 out-of-catalogue", len(ooc), sum(r.pages or 0 for r in ooc), 0, 0, len(ooc)])
    sections.append(_Section("分类 Per class (ok files)", table=_Table(
        ["class", "name", "files", "pages", "auto", "class-only", "review"], class_rows, {2, 3, 4, 5, 6})))

    projects: Counter = Counter()
    project_pages: Counter = Counter()
    for r in ok:
        if not r.out_of_catalogue and r.item_code in catalogue:
            name = (r.tags.project_name or "").strip() or f"（{NO_PROJECT_SHEET}）"
            projects[name] += 1
            project_pages[name] += r.pages or 0
    sections.append(_Section("工程 Projects (filed documents)", table=_Table(
        ["工程名称", "documents", "pages"],
        [[p, c, project_pages[p]] for p, c in sorted(projects.items(), key=lambda x: (-x[1], x[0]))], {1, 2})))

    sources = Counter(r.text_source or "–" for r in ok)
    warned = Counter(w for r in results for w in r.warnings)
    extra_rows = [[f"text source: {s}", c] for s, c in sources.most_common()]
    extra_rows += [[f"warning: {w}", c] for w, c in warned.most_common(10)]
    if extra_rows:
        sections.append(_Section("文本来源与警告 Text sources and warnings", table=_Table(["", "files"], extra_rows, {1})))

    return "dangan 运行报告 Run report", sections


def _md_cell(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _render_markdown(title: str, sections: list[_Section]) -> str:
    out = [f"# {title}", ""]
    for s in sections:
        out += [f"## {s.title}", ""]
        for p in s.paragraphs:
            out += [p, ""]
        if s.table:
            t = s.table
            out.append("| " + " | ".join(_md_cell(h) for h in t.headers) + " |")
            out.append("|" + "|".join("---:" if i in t.align_right else "---" for i in range(len(t.headers))) + "|")
            for row in t.rows:
                out.append("| " + " | ".join(_md_cell(v) for v in row) + " |")
            out.append("")
    return "\n".join(out)


def _render_html(title: str, sections: list[_Section]) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>", '<html lang="zh-CN"><head><meta charset="utf-8">', f"<title>{e(title)}</title>",
        ("<style>body{font-family:system-ui,'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:2em;}"
         "table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #bbb;padding:.25em .6em;"
         "vertical-align:top}th{background:#eee}td.r{text-align:right}</style>"),
        "</head><body>", f"<h1>{e(title)}</h1>",
    ]
    for s in sections:
        out.append(f"<h2>{e(s.title)}</h2>")
        out += [f"<p>{e(p)}</p>" for p in s.paragraphs]
        if s.table:
            t = s.table
            out.append("<table>")
            if any(t.headers):
                out.append("<tr>" + "".join(f"<th>{e(str(h))}</th>" for h in t.headers) + "</tr>")
            for row in t.rows:
                out.append("<tr>" + "".join(
                    f'<td class="r">{e(str(v))}</td>' if i in t.align_right else f"<td>{e(str(v))}</td>"
                    for i, v in enumerate(row)) + "</tr>")
            out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render_run_report(
    results: Iterable[FileResult], meta: RunMeta | None = None, catalogue: Catalogue | None = None,
    *, fmt: str = "md",
) -> str:
    """The report as text: ``fmt`` is ``"md"`` or ``"html"`` (same content)."""
    title, sections = _report_sections(list(results), meta or RunMeta(), catalogue or load_catalogue())
    if fmt == "html":
        return _render_html(title, sections)
    if fmt == "md":
        return _render_markdown(title, sections)
    raise ValueError(f"unknown report format {fmt!r}: use 'md' or 'html'")


def write_run_report(
    path: Path, results: Iterable[FileResult], meta: RunMeta | None = None, catalogue: Catalogue | None = None,
) -> None:
    """The run report: HTML when ``path`` ends in .html/.htm, Markdown otherwise.

    Files, pages, auto / class-only / review / out-of-catalogue, errors by code with example files,
    the slowest files, per-class and per-project counts, text sources and warnings, model version, duration.
    """
    path = Path(path)
    fmt = "html" if path.suffix.lower() in {".html", ".htm"} else "md"
    text = render_run_report(results, meta, catalogue, fmt=fmt)
    _atomic_write_bytes(path, lambda fh: fh.write(text.encode("utf-8")))


# ============================================================================= all at once
EXPORT_NAMES = {
    "parquet": "results.parquet",
    "volumes": "volume_catalogue.xlsx",
    "report_md": "report.md",
    "report_html": "report.html",
}


def write_exports(
    out_dir: Path, results: Sequence[FileResult], meta: RunMeta | None = None, catalogue: Catalogue | None = None,
) -> dict[str, Path]:
    """Write every export of :data:`EXPORT_NAMES` into ``out_dir``; returns their paths by key."""
    out = Path(out_dir)
    catalogue = catalogue or load_catalogue()
    paths = {k: out / name for k, name in EXPORT_NAMES.items()}
    write_parquet(paths["parquet"], results)
    write_volume_catalogue(paths["volumes"], results, catalogue)
    write_run_report(paths["report_md"], results, meta, catalogue)
    write_run_report(paths["report_html"], results, meta, catalogue)
    return paths
