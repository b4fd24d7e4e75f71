"""Reading order from OCR boxes: rows top-down, cells left-right, one text line per row.

OCR engines emit boxes roughly sorted by their top edge. On a form, the cells of one row have
slightly different tops, so plain sorting interleaves neighbouring rows ("工程名称" from row 1,
then "施工单位" from row 2, then the value of row 1). Grouping boxes into rows by vertical overlap
and sorting each row by x makes a form read as a person reads it: label, value, label, value.

Limitation: a page with two independent text columns is also read row by row across both columns.
Construction forms are row-structured, so that is the right default here.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median

from features.ocr.base import OcrLine

#: Two boxes are on the same row if their vertical centres differ by less than this share of the
#: smaller box height (a skew residue of ~0.3° or a taller neighbouring glyph still fits).
ROW_TOLERANCE = 0.5
#: A horizontal gap wider than this many text heights separates table columns (joined by a tab).
COLUMN_GAP = 2.0


def group_rows(lines: Sequence[OcrLine], *, tolerance: float = ROW_TOLERANCE) -> list[list[OcrLine]]:
    """Group boxes into rows (top to bottom), each row sorted left to right."""
    boxes = [line for line in lines if line.text.strip()]
    boxes.sort(key=lambda ln: (_cy(ln), ln.box[0]))
    rows: list[list[OcrLine]] = []
    for line in boxes:
        row = _matching_row(rows, line, tolerance)
        if row is None:
            rows.append([line])
        else:
            row.append(line)
    for row in rows:
        row.sort(key=lambda ln: ln.box[0])
    rows.sort(key=lambda r: median(_cy(ln) for ln in r))
    return rows


def _matching_row(rows: list[list[OcrLine]], line: OcrLine, tolerance: float) -> list[OcrLine] | None:
    """The row this box belongs to; only the last few rows can match because boxes come sorted."""
    cy, h = _cy(line), _h(line)
    for row in reversed(rows[-3:]):
        row_cy = median(_cy(ln) for ln in row)
        row_h = median(_h(ln) for ln in row)
        overlaps_x = any(not (line.box[0] >= ln.box[2] or line.box[2] <= ln.box[0]) for ln in row)
        if abs(cy - row_cy) < tolerance * min(h, row_h) and not overlaps_x:
            return row
    return None


def merge_row(row: Sequence[OcrLine], *, column_gap: float = COLUMN_GAP) -> OcrLine:
    """One line for a row: cells joined by a space, or a tab across a wide (table-column) gap.

    The score is the length-weighted mean of the cells; the box is their union.
    """
    parts: list[str] = []
    for i, line in enumerate(row):
        if i:
            gap = line.box[0] - row[i - 1].box[2]
            parts.append("\t" if gap > column_gap * min(_h(line), _h(row[i - 1])) else " ")
        parts.append(line.text.strip())
    weights = [max(len(ln.text), 1) for ln in row]
    score = sum(ln.score * w for ln, w in zip(row, weights)) / sum(weights)
    box = (
        min(ln.box[0] for ln in row), min(ln.box[1] for ln in row),
        max(ln.box[2] for ln in row), max(ln.box[3] for ln in row),
    )
    return OcrLine(text="".join(parts), score=score, box=box)


def reading_order(lines: Sequence[OcrLine]) -> tuple[OcrLine, ...]:
    """The page as one ``OcrLine`` per visual row, in reading order."""
    return tuple(merge_row(row) for row in group_rows(lines))


def _cy(line: OcrLine) -> float:
    return (line.box[1] + line.box[3]) / 2.0


def _h(line: OcrLine) -> float:
    return max(line.box[3] - line.box[1], 1.0)
