"""Exports: Parquet round trip, the 卷内目录 workbook (opened with openpyxl), the run report."""

from __future__ import annotations

import re

import pytest

from models.catalogue import load_catalogue
from pipelines.exports import (
    NO_PROJECT_SHEET,
    PARQUET_COLUMNS,
    PENDING_COLUMNS,
    PENDING_SHEET,
    VOLUME_COLUMNS,
    RunMeta,
    archive_date,
    sheet_title,
    write_exports,
    write_parquet,
    write_run_report,
    write_volume_catalogue,
)
from pipelines.results import CandidateOut, ErrorInfo, FileResult, TagsOut, UnitOut

openpyxl = pytest.importorskip("openpyxl")

P1 = "滨江花园二期3#楼工程"
P2 = "城南[学校]/体育馆:改扩建工程项目一期工程总承包"  # forbidden sheet characters, longer than 31
CONSTRUCTOR = UnitOut(role="施工单位", name="浙江宏图建设集团有限公司")
SUPERVISOR = UnitOut(role="监理单位", name="杭州正信工程监理有限公司")
OWNER = UnitOut(role="建设单位", name="杭州滨江置业有限公司")


def _ok(file, code, *, project=P1, date=None, number=None, pages=1, units=(CONSTRUCTOR,), route="auto",
        seconds=1.0) -> FileResult:
    item = load_catalogue()[code]
    return FileResult(
        file=file, sha256=file.encode().hex(), status="ok", pages=pages, text_source="ocr", ocr_confidence=0.93,
        stage=item.stage, class_code=item.class_code, class_name=item.class_name, item_code=code,
        item_name=item.name, confidence=0.97, class_confidence=0.99, route=route, model_version="m-test-1",
        candidates=[CandidateOut(item_code=code, item_name=item.name, confidence=0.97)],
        tags=TagsOut(project_name=project, doc_number=number, doc_date=date, units=list(units)), seconds=seconds,
    )


@pytest.fixture(scope="module")
def results() -> list[FileResult]:
    # Shuffled on purpose: C6-10 before C6-2 also checks numeric (not string) item order.
    return [
        _ok("p1/c6-10.pdf", "C6-10", date="2021-06-03", number="JC-2021-118", pages=3),  # issuer: 检测机构
        _ok("p1/c5-1-late.pdf", "C5-1", date="2021-05-20", number="C5-1-002", pages=2),
        _ok("p1/a5-2.pdf", "A5-2", date="2020-11-02", number="330106202011020101", pages=1, units=(OWNER,)),
        _ok("p1/c5-1-early.pdf", "C5-1", date="2021-04-08", number="=C5-1-001", pages=4,
            units=(SUPERVISOR, CONSTRUCTOR), route="class", seconds=9.5),
        _ok("p1/b2-1.pdf", "B2-1", date=None, number=None, pages=2, units=(SUPERVISOR,), route="review"),
        _ok("p1/c6-2.pdf", "C6-2", date="2021-07-15", pages=5),
        _ok("p2/c1-9.pdf", "C1-9", project=P2, date="2022-03-01", pages=10),
        _ok("p2/c1-1.pdf", "C1-1", project=P2 + " ", date="2022-01-10", pages=1),  # same project, stray space
        _ok("none/d-2.pdf", "D-2", project=None, date="2022-08-08", pages=6),
        FileResult(file="bad/broken.pdf", status="error", error=ErrorInfo(code="unreadable", message="not a PDF"),
                   model_version="m-test-1", seconds=0.1),
        FileResult(file="bad/timeout.tif", status="error", error=ErrorInfo(code="ocr_failed", message="timeout"),
                   model_version="m-test-1", seconds=30.0),
        FileResult(file="odd/menu.pdf", status="ok", pages=1, route="review", out_of_catalogue=True,
                   model_version="m-test-1", tags=TagsOut(project_name=P1), seconds=0.5,
                   candidates=[CandidateOut(item_code="E4-1", item_name="其他工程文件", confidence=0.2)]),
    ]


def _rows(ws) -> list[list[object]]:
    return [list(r) for r in ws.iter_rows(min_row=3, values_only=True)]


def test_volume_catalogue_opens_with_expected_sheets_and_columns(tmp_path, results):
    path = tmp_path / "卷内目录.xlsx"
    write_volume_catalogue(path, results, load_catalogue())
    assert not list(tmp_path.glob("*.part"))
    wb = openpyxl.load_workbook(path)
    p2_sheet = sheet_title(P2, {PENDING_SHEET.casefold(), P1.casefold()})
    assert wb.sheetnames == [P1, p2_sheet, NO_PROJECT_SHEET, PENDING_SHEET]
    assert len(p2_sheet) <= 31 and not re.search(r"[:\\/?*\[\]]", p2_sheet)
    for name in wb.sheetnames[:-1]:
        ws = wb[name]
        header = [c.value for c in ws[2]]
        assert header == VOLUME_COLUMNS == ["序号", "文件编号", "责任者", "文件题名", "日期", "页次", "备注"]
        assert ws.freeze_panes == "A3"
        assert ws["D3"].border.left.style == "thin" and ws["E3"].number_format == "@"
        assert int(ws.page_setup.paperSize) == int(ws.PAPERSIZE_A4)  # 9 = A4
        assert ws.print_title_rows == "$1:$2"
        assert str(ws["A1"].value).startswith("卷内目录 — ")
    assert wb[P1]["A1"].value == f"卷内目录 — {P1}"
    assert wb[p2_sheet]["A1"].value == f"卷内目录 — {P2}"  # the full name, even if the tab is clipped
    assert [c.value for c in wb[PENDING_SHEET][2]] == PENDING_COLUMNS


def test_volume_rows_in_catalogue_order_with_cumulative_pages(tmp_path, results):
    path = tmp_path / "v.xlsx"
    write_volume_catalogue(path, results, load_catalogue())
    wb = openpyxl.load_workbook(path)
    rows = _rows(wb[P1])
    cat = load_catalogue()
    by_title = {r.item_name: r for r in results if r.item_name}
    codes = [by_title[row[3]].item_code for row in rows]
    assert codes == ["A5-2", "B2-1", "C5-1", "C5-1", "C6-2", "C6-10"]
    assert codes == sorted(codes, key=cat.order_key)
    assert [row[0] for row in rows] == list(range(1, len(rows) + 1))
    # within an item by date; dates as 8 digits (text), unknown ones empty
    assert [row[4] for row in rows] == ["20201102", None, "20210408", "20210520", "20210715", "20210603"]
    assert all(re.fullmatch(r"\d{8}", row[4]) for row in rows if row[4])
    # pages 1 | 2 | 4 | 2 | 5 | 3 → starts 1, 2, 4, 8, 10, last 15-17
    assert [row[5] for row in rows] == ["1", "2", "4", "8", "10", "15-17"]
    # a formula-looking 文件编号 stays text
    assert rows[2][1] == "=C5-1-001"
    assert wb[P1]["B5"].data_type == "s"


def test_responsible_unit_and_remarks(tmp_path, results):
    path = tmp_path / "v.xlsx"
    write_volume_catalogue(path, results, load_catalogue())
    wb = openpyxl.load_workbook(path)
    rows = {row[3]: row for row in _rows(wb[P1])}
    cat = load_catalogue()
    # C5-1 is issued by the 施工单位: that unit wins over the first one named (监理单位)
    c5 = [row for row in _rows(wb[P1]) if row[3] == cat["C5-1"].name]
    assert [row[2] for row in c5] == [CONSTRUCTOR.name, CONSTRUCTOR.name]
    # issued by a 政府主管部门 / 检测机构 the tagger never names: empty, not a made-up unit
    assert rows[cat["A5-2"].name][2] is None
    assert rows[cat["C6-10"].name][2] is None
    # B2-1 is issued by the 施工单位; only the 监理单位 is named → empty
    assert rows[cat["B2-1"].name][2] is None
    assert rows[cat["B2-1"].name][6] == "待审核"
    assert c5[0][6] == "待审核（条目待定）"
    assert rows[cat["C6-2"].name][6] is None
    # the same project with a stray space is one volume
    p2 = _rows(wb[wb.sheetnames[1]])
    assert [row[3] for row in p2] == [cat["C1-1"].name, cat["C1-9"].name]
    assert [row[5] for row in p2] == ["1", "2-11"]


def test_pending_sheet_lists_errors_out_of_catalogue_and_reviews(tmp_path, results):
    path = tmp_path / "v.xlsx"
    write_volume_catalogue(path, results, load_catalogue())
    ws = openpyxl.load_workbook(path)[PENDING_SHEET]
    rows = _rows(ws)
    assert [row[1] for row in rows] == [
        "bad/broken.pdf", "bad/timeout.tif", "odd/menu.pdf", "p1/b2-1.pdf", "p1/c5-1-early.pdf"]
    assert [row[0] for row in rows] == [1, 2, 3, 4, 5]
    assert rows[0][7] == "错误 unreadable：not a PDF"
    assert rows[2][7] == "未识别（目录外文件）"
    assert rows[2][3] is None  # no label for out-of-catalogue
    assert rows[3][7].startswith("待审核（已编入 ")


def test_empty_results_still_make_a_workbook(tmp_path):
    path = tmp_path / "empty.xlsx"
    write_volume_catalogue(path, [], load_catalogue())
    assert openpyxl.load_workbook(path).sheetnames == [PENDING_SHEET]


def test_sheet_title_rules():
    used: set[str] = set()
    assert sheet_title("a/b:c?d*e[f]g\\h", used) == "a_b_c_d_e_f_g_h"
    long = "很" * 40
    first, second = sheet_title(long, used), sheet_title(long, used)
    assert len(first) == 31 and second.endswith("~2") and len(second) == 31
    assert sheet_title("History", used) == "History_"
    assert sheet_title("'quoted'", used) == "quoted"
    assert sheet_title("", used) == "未命名"
    assert sheet_title("A", used) == "A" and sheet_title("a", used) == "a~2"


def test_archive_date():
    assert archive_date("2021-04-08") == "20210408"
    assert archive_date(None) == archive_date("2021-13-40") == archive_date("") == ""


def test_parquet_round_trip(tmp_path, results):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "results.parquet"
    write_parquet(path, results)
    df = pd.read_parquet(path)
    assert len(df) == len(results)
    assert list(df.columns) == PARQUET_COLUMNS
    assert list(df["file"]) == [r.file for r in results]
    assert df["out_of_catalogue"].dtype == bool
    assert df.loc[0, "item_code"] == "C6-10"
    assert str(df.loc[0, "doc_date"]) == "2021-06-03"
    assert df.loc[0, "candidates"][0]["item_code"] == "C6-10"
    assert df.loc[3, "units"][0]["role"] == "监理单位"
    err = df[df["status"] == "error"]
    assert list(err["error_code"]) == ["unreadable", "ocr_failed"]
    assert df.loc[0, "error_code"] is None or pd.isna(df.loc[0, "error_code"])


def test_run_report_markdown_and_html(tmp_path, results):
    meta = RunMeta(model_version="m-test-1", seconds=125.0, resumed=2, inputs=("/data/in",))
    md_path, html_path = tmp_path / "report.md", tmp_path / "report.html"
    write_run_report(md_path, results, meta)
    write_run_report(html_path, results, meta)
    md = md_path.read_text(encoding="utf-8")
    lines = md.splitlines()

    def row(label: str) -> list[str]:
        line = next(line for line in lines if line.startswith(f"| {label}"))
        return [c.strip() for c in line.strip("|").split("|")]

    assert row("文件 files")[1] == "12"
    assert row("页数 pages")[1] == str(sum(r.pages or 0 for r in results))
    assert row("成功 ok")[1] == "10"
    assert row("错误 errors")[1] == "2"
    assert row("自动归档 auto")[1] == "7"
    assert row("仅分类 class-only")[1] == "1"
    assert row("待审核 review")[1] == "1"
    assert row("目录外 out-of-catalogue")[1] == "1"
    assert row("unreadable")[1:3] == ["1", "bad/broken.pdf"]
    assert row("ocr_failed")[1] == "1"
    assert "m-test-1" in md and "2:05 min" in md
    slow = md.index("最慢文件")
    assert md.index("bad/timeout.tif", slow) < md.index("p1/c5-1-early.pdf", slow)  # slowest first
    assert row("C5 ")[2:] == ["2", "6", "1", "1", "0"]
    html = html_path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "m-test-1" in html and "bad/broken.pdf" in html


def test_write_exports_writes_everything(tmp_path, results):
    paths = write_exports(tmp_path / "out", results, RunMeta(seconds=3.0))
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())
    assert not list((tmp_path / "out").glob("*.part"))


def test_a_multi_document_file_gives_one_row_per_part():
    from pipelines.exports import volume_rows
    from pipelines.results import PartOut

    cat = load_catalogue()
    scan = _ok("box/scan.pdf", "C5-1", pages=3).model_copy(update={"parts": [
        PartOut(first_page=1, last_page=1, item_code="C5-1", item_name=cat["C5-1"].name, class_code="C5", route="auto"),
        PartOut(first_page=2, last_page=3, item_code="C7-1", item_name=cat["C7-1"].name, class_code="C7",
                route="review"),
    ]})
    volumes, pending = volume_rows([scan], cat)
    rows = volumes[0].rows
    assert [(r.title, r.pages) for r in rows] == [(cat["C5-1"].name, "1"), (cat["C7-1"].name, "2-3")]
    assert rows[1].remark and not pending
