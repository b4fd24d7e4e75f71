"""Rule-based tags: 工程名称, 文件编号, 日期, the parties, 专业 and keywords.

Archive forms label their fields (``工程名称：…``), so labelled patterns come first; unlabelled text
falls back to shapes (a 文号 like ``沪规划资源建〔2019〕123号``, a date anywhere). Everything here must
survive OCR output: full-width/half-width colons, spaces inside labels, missing separators.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from features.segmentation import Segmenter, normalize_text

_CN_DIGITS = {"〇": 0, "零": 0, "○": 0, "O": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}
_SEP = r"\s*[:：=]?\s*"
# Where a labelled value ends: wide gaps, punctuation, line ends, or the next label glued on by OCR.
_NEXT_LABEL = (
    r"(?:建设|施工|监理|设计|勘察|检测|分包|委托)单位|编号|日期|地点|部位|图名|图号|单号|填报|工程地址|建设地址"
    r"|建设地点|结构类型|层数|建筑面积"
)
_STOP = rf"(?=\s{{2,}}|\t|[;；,，。]|\n|$|{_NEXT_LABEL})"

UNIT_ROLES = ("建设单位", "施工单位", "监理单位", "设计单位", "勘察单位")
_UNIT_SUFFIX = r"(?:有限责任公司|股份有限公司|有限公司|集团公司|公司|研究院|设计院|勘察院|研究所|事务所|中心|指挥部|管理局|管理处|局)"


@dataclass(frozen=True)
class Unit:
    role: str
    name: str


@dataclass(frozen=True)
class Tags:
    project_name: str | None = None
    doc_number: str | None = None
    doc_date: str | None = None
    units: tuple[Unit, ...] = ()
    discipline: str | None = None
    keywords: tuple[str, ...] = field(default=())


# ----------------------------------------------------------------------------------------- dates
_DATE_PATTERNS = [
    # 2019年5月12日, 2019 年 05 月 12 日
    re.compile(r"(?P<y>(?:19|20)\d{2})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]"),
    # 2019.05.12 2019/5/12 2019-05-12
    re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})\s*(?P<s>[./\-])\s*(?P<m>\d{1,2})\s*(?P=s)\s*(?P<d>\d{1,2})(?!\d)"),
    # 20190512 only when labelled, handled separately
]
_CN_DATE = re.compile(
    r"(?P<y>[〇零○O一二三四五六七八九]{4})\s*年\s*(?P<m>[一二三四五六七八九十]{1,3})\s*月\s*(?P<d>[一二三四五六七八九十]{1,3})\s*[日号]"
)
_DATE_LABEL = re.compile(
    r"(签发|发文|批准|核发|发证|填表|填报|报告|检测|试验|检查|验收|施工|浇筑|会议|签订|编制|审核|出具|记录)?(日期|时间)"
)


def _cn_number(text: str) -> int:
    """Chinese numerals up to 39 (enough for months and days): 十二 → 12, 二十三 → 23, 三十 → 30."""
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)
    return _CN_DIGITS.get(text, -1)


def _valid(y: int, m: int, d: int) -> str | None:
    try:
        return date(y, m, d).isoformat()
    except ValueError:
        return None


def find_dates(text: str) -> list[tuple[int, str]]:
    """All dates in ``text`` as (offset, ISO date), in text order."""
    found: list[tuple[int, str]] = []
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            iso = _valid(int(m["y"]), int(m["m"]), int(m["d"]))
            if iso:
                found.append((m.start(), iso))
    for m in _CN_DATE.finditer(text):
        year = int("".join(str(_CN_DIGITS[c]) for c in m["y"]))
        iso = _valid(year, _cn_number(m["m"]), _cn_number(m["d"]))
        if iso:
            found.append((m.start(), iso))
    return sorted(set(found))


def parse_date(text: str) -> str | None:
    """The first date in ``text`` as ISO ``YYYY-MM-DD`` (any common Chinese form), else None."""
    dates = find_dates(normalize_text(text))
    return dates[0][1] if dates else None


# Dates that belong to the archive or the printer, not to the document.
_NOT_DOC_DATE = re.compile(r"(归档|打印|印发|收文|登记|保管|立卷|移交|著录)(日期|时间)?\s*[:：=]?\s*$")


def _doc_date(text: str, dates: list[tuple[int, str]]) -> str | None:
    dates = [(off, iso) for off, iso in dates if not _NOT_DOC_DATE.search(text[max(0, off - 12) : off])]
    if not dates:
        return None
    for label in _DATE_LABEL.finditer(text):
        after = [iso for off, iso in dates if 0 <= off - label.end() <= 12]
        if after:
            return after[0]
    # Unlabelled: the signature/issue date closes the document, so take the last one.
    return dates[-1][1]


# ------------------------------------------------------------------------------- project name
_PROJECT_LABEL = re.compile(r"(?:单位)?(?:工程|项目|建设项目|工程项目)\s*名\s*称" + _SEP + r"(?P<v>[^\n\t]{2,60}?)" + _STOP)
_PROJECT_INLINE = re.compile(r"关于(?P<v>[^\n，。]{2,50}?(?:工程|项目))(?:的|建设|施工|项目建议书|可行性|初步设计|规划|立项)")
_DOC_KINDS = r"(?:可行性研究报告|项目建议书|初步设计|施工图设计|设计方案|环境影响报告|规划|立项)"
_PROJECT_ABOUT = re.compile(r"关于(?P<v>[^\n，。]{4,50}?)" + _DOC_KINDS + r"[^\n]{0,12}?(?:的)?(?:批复|复函|意见|通知|决定)")
# System exports: "项目=…", "工程:…"
_PROJECT_KEY = re.compile(r"(?:^|[\s,，;；|])(?:项目|工程)\s*[=:：]\s*(?P<v>[^\n\t,，;；|=]{4,60}?)" + _STOP)
# Contractor's footer: "XX建设有限公司 滨江花园二期3#住宅楼项目部" / "…项目监理部"
_PROJECT_FOOTER = re.compile(r"(?:公司|集团)\s+(?P<v>[^\s]{4,40}?)(?:项目经理部|项目部|项目监理部|监理部)")


def _clean_value(value: str) -> str | None:
    value = value.strip(" \t:：;；,，。|_-—")
    value = re.sub(r"\s{2,}.*$", "", value)
    if len(value) < 2 or re.fullmatch(r"[\s_\-—/]*", value):
        return None
    return value


def _project_name(text: str) -> str | None:
    for pattern in (_PROJECT_LABEL, _PROJECT_KEY, _PROJECT_INLINE, _PROJECT_ABOUT, _PROJECT_FOOTER):
        for m in pattern.finditer(text):
            value = _clean_value(m["v"])
            if value:
                return value
    return None


# -------------------------------------------------------------------------------- doc number
_WENHAO = re.compile(r"[A-Za-z\u4e00-\u9fff]{1,12}[〔\[［(（【]\s*(?:19|20)\d{2}\s*[〕\]］)）】]\s*(?:第\s*)?\d{1,5}\s*号")
_NUMBER_LABEL = re.compile(
    r"(?:(?:报告|文件|表格|资料|证书|合同|许可证|档案|记录|图纸|图|批准|检测|试验|委托)?\s*编\s*号|单号|流水号|证号|批号)"
    + _SEP +
    r"(?P<v>[A-Za-z0-9\u4e00-\u9fff〔〕\[\]()（）\-—_/#.·]{2,40})"
)
_NUMBER_OK = re.compile(r"\d")


def _doc_number(text: str) -> str | None:
    m = _WENHAO.search(text)
    if m:
        return re.sub(r"\s+", "", m.group(0))
    for m in _NUMBER_LABEL.finditer(text):
        value = m["v"].strip("：:;；,，。")
        # Stop at the next label glued on by OCR ("编号：C5-1-001日期：…").
        value = re.split(r"(?:日期|时间|工程|项目|单位|名称)", value)[0]
        if _NUMBER_OK.search(value) and len(value) >= 2:
            return value
    return None


# ------------------------------------------------------------------------------------- units
_UNIT_LABEL = re.compile(
    r"(?P<role>建设|施工|监理|设计|勘察|勘测|总承包|承包)\s*(?:单位|单\s*位|方|人)(?:\s*[（(]?[^)）:\n]{0,4}[)）]?)?"
    + _SEP + r"(?P<v>[^\n\t:：]{2,40}?" + _UNIT_SUFFIX + rf")(?=\s|$|[,，;；。)）(（]|{_NEXT_LABEL})"
)
_ROLE_MAP = {"建设": "建设单位", "施工": "施工单位", "总承包": "施工单位", "承包": "施工单位",
             "监理": "监理单位", "设计": "设计单位", "勘察": "勘察单位", "勘测": "勘察单位"}


def _units(text: str) -> tuple[Unit, ...]:
    seen: dict[tuple[str, str], Unit] = {}
    for m in _UNIT_LABEL.finditer(text):
        name = _clean_value(m["v"])
        if not name:
            continue
        role = _ROLE_MAP[m["role"]]
        seen.setdefault((role, name), Unit(role=role, name=name))
    return tuple(seen.values())


# -------------------------------------------------------------------------------- discipline
_DISCIPLINES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("电梯", ("电梯", "自动扶梯", "曳引", "层门", "限速器", "安全钳", "轿厢")),
    ("智能", ("智能建筑", "综合布线", "安防", "视频监控", "门禁", "楼宇自控", "弱电", "信息网络")),
    ("暖通", ("通风", "空调", "风管", "风机", "采暖", "供暖", "散热器", "冷水机组", "漏风量")),
    ("给排水", ("给水", "排水", "给排水", "消火栓", "喷淋", "灌水试验", "通球", "管道冲洗", "水压试验")),
    ("电气", ("电气", "配电", "电缆", "接地电阻", "绝缘电阻", "照明", "桥架", "防雷", "开关柜")),
    ("节能", ("节能", "保温", "传热系数", "导热系数")),
    ("结构", ("钢筋", "混凝土", "模板", "桩", "地基", "基础", "砌体", "钢结构", "预应力", "焊接", "试块")),
    ("建筑", ("装饰", "装修", "门窗", "幕墙", "防水", "抹灰", "吊顶", "地面", "屋面", "涂饰")),
)


def discipline_of(text: str) -> str | None:
    """专业 by keyword counts; None when no discipline term appears (e.g. approvals, contracts)."""
    best, best_count = None, 0
    for name, words in _DISCIPLINES:
        count = sum(text.count(w) for w in words)
        if count > best_count:
            best, best_count = name, count
    return best


# ------------------------------------------------------------------------------------ public
def extract_tags(text: str, segmenter: Segmenter | None = None, *, top_k_keywords: int = 8) -> Tags:
    """All tags of one document's text. ``segmenter`` is needed only for keywords."""
    norm = normalize_text(text)
    dates = find_dates(norm)
    keywords = tuple(segmenter.keywords(norm, top_k_keywords)) if segmenter else ()
    return Tags(
        project_name=_project_name(norm),
        doc_number=_doc_number(norm),
        doc_date=_doc_date(norm, dates),
        units=_units(norm),
        discipline=discipline_of(norm),
        keywords=keywords,
    )
