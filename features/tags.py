"""Rule-based tags: 工程名称, 文件编号, 日期, the parties, 专业 and keywords.

Archive forms label their fields (``工程名称：…``), so labelled patterns come first; unlabelled text
falls back to shapes (a 文号 like ``沪规划资源建〔2019〕123号``, a date anywhere). Everything here must
survive OCR output: full-width/half-width colons, spaces inside labels, missing separators, a label
printed as a caption after its value (``滨江花园 （工程名称）``) and cells read in swapped order.

Each rule encodes how real construction documents print a field, not how one template does:

* project: labelled fields, key=value exports, captions, ``关于…的批复`` titles, the contractor's
  ``…项目部`` footer; then the name a letter keeps repeating (title, body, footer); then the head of
  a subject line (``流程标题：X…报审``) or of what prose introduces (``我方就X…``, ``对X地下二层…``),
  cut at its last project head noun (楼/大厦/工程/地块…) and before building parts; then a line that is
  nothing but such a name. Redacted values (某某, ***) are not names and are never returned.
* 文号: one standing at the head of its line is the document's own; one inside a sentence or a table
  cell (``…（苏发改〔2021〕418号）收悉``) cites another document and is ignored. ``编号`` qualified by
  an object (出厂编号, 试块编号) numbers that object, not the document.
* date: the date a label names as the document's (填报/签发/报告日期) beats a plain 日期, which beats
  other labelled dates (a record's 检查日期), which beat a free-standing signature date; dates in prose
  (``于2021年9月14日上午到现场``) and archive/printing dates are never the document's.
* parties: role labels in their many regional forms (建设方/业主/发包单位, 承建/承包单位/施工企业,
  项目监理机构, 检测机构), plus ``<公司> … 项目部`` (a contractor's site office) and ``项目监理部``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from features.segmentation import Segmenter, normalize_text

_CN_DIGITS = {"〇": 0, "零": 0, "○": 0, "O": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}
_SEP = r"[ \t]*[:：=]?[ \t]*"  # never across a line: OCR puts one table row on one line
# Where a labelled value ends: wide gaps, punctuation, line ends, or the next label glued on by OCR.
_NEXT_LABEL = (
    r"(?:建设|施工|监理|设计|勘察|检测|分包|委托|承建|承包|发包)单位|建设方|业主单位|施工企业|监理机构"
    r"|编号|单号|流水号|日期|地点|部位|图名|图号|填报|工程地址|建设地址|建设地点|建设位置|建设规模"
    r"|结构类型|层数|建筑面积|开工日期|竣工日期|分部工程|分项工程"
)
_STOP = rf"(?=\s{{2,}}|\t|[;；,，。|｜]|\n|$|\s?(?:{_NEXT_LABEL}))"
_CJK = r"\u4e00-\u9fff"

UNIT_ROLES = ("建设单位", "施工单位", "监理单位", "设计单位", "勘察单位", "检测机构")
_UNIT_SUFFIX = (r"(?:有限责任公司|股份有限公司|有限公司|集团公司|公司|研究总院|研究院|设计院|勘察院|研究所|事务所"
                r"|中心|指挥部|管理局|管理处|委员会|办公室|医院|学校|大学|档案馆|监督站|局|院|所|站)")
# Redaction marks on copies handed to archives: a masked name identifies nobody.
_MASK = re.compile(r"某某|\*{2,}|＊{2,}|×{2,}|XX|xx|〇〇")


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


# Characters of field labels that OCR engines read as a look-alike (PP-OCR: 程→桯, 项→顶, 设→没 …).
_OCR_ALT = {"程": "程桯", "项": "项顶", "设": "设没", "位": "位住", "监": "监鉴", "施": "施旅", "检": "检捡",
            "验": "验脸", "部": "部郜", "式": "式武"}
_OCR_BACK = str.maketrans({alt: c for c, alts in _OCR_ALT.items() for alt in alts if alt != c})


def _spaced(word: str) -> str:
    """``工程名称`` → a pattern that also matches the letter-spaced ``工 程 名 称`` and the OCR
    look-alikes of its characters (``工桯名称``)."""
    return r"[ \t]*".join(f"[{_OCR_ALT[c]}]" if c in _OCR_ALT else re.escape(c) for c in word)


def _lines(text: str) -> list[tuple[int, str]]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, line))
        pos += len(line) + 1
    return out


# ------------------------------------------------------------------------------ OCR digit fixes
_LOOKALIKE = str.maketrans({"O": "0", "o": "0", "l": "1", "I": "1", "S": "5", "B": "8", "Z": "2"})
_LOOKALIKE_RUN = re.compile(r"(?<=\d)[OolISBZ]+(?=\d|[^A-Za-z]|$)|(?<=[\d\-/.])[OolI]+(?=\d)")


def fix_ocr_digits(text: str) -> str:
    """Undo OCR letter-for-digit confusions inside numbers (``2O19`` → 2019, ``13O`` → 130).

    Only a run of look-alikes that follows a digit and is not followed by a letter changes, or an
    O/l/I (letters numbering schemes avoid) between a separator and a digit (``-O93``), so code prefixes
    (``OA2019…``, ``B27974``, ``SG-``) stay as printed. Used for dates and numbers only.
    """
    return _LOOKALIKE_RUN.sub(lambda m: m.group(0).translate(_LOOKALIKE), text)


_LOOK = "0-9OolISBZ"
# Inside a date's shape a look-alike is a digit even after a separator: 2012/Z/9, 2019年S月1日.
_DATE_DOTTED = re.compile(
    rf"(?<![0-9A-Za-z])((?:19|20)\d\d)([./\-])([{_LOOK}]{{1,2}})\2([{_LOOK}]{{1,2}})(?![0-9A-Za-z])"
)
_DATE_CN = re.compile(rf"((?:19|20)\d\d\s*年\s*)([{_LOOK}]{{1,2}})(\s*月\s*)([{_LOOK}]{{1,2}})(?=\s*[日号曰])")


def _fix_date_digits(text: str) -> str:
    def digits(s: str) -> str:
        return s.translate(_LOOKALIKE)

    text = _DATE_DOTTED.sub(lambda m: m[1] + m[2] + digits(m[3]) + m[2] + digits(m[4]), text)
    return _DATE_CN.sub(lambda m: m[1] + digits(m[2]) + m[3] + digits(m[4]), text)


# ----------------------------------------------------------------------------------------- dates
_DAY_END = r"[日号曰]"  # 曰: OCR's reading of 日
_DATE_PATTERNS = [
    # 2019年5月12日, 2019 年 05 月 12 日
    re.compile(r"(?P<y>(?:19|20)\d{2})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*" + _DAY_END),
    # 2019.05.12 2019/5/12 2019-05-12
    re.compile(
        r"(?<!\d)(?P<y>(?:19|20)\d{2})\s*(?P<s>[./\-])\s*(?P<m>\d{1,2})\s*(?P=s)\s*(?P<d>\d{1,2})(?!\d)"
    ),
]
_CN_DATE = re.compile(
    r"(?P<y>[〇零○O一二三四五六七八九]{4})\s*年\s*(?P<m>[一二三四五六七八九十]{1,3})\s*月\s*(?P<d>[一二三四五六七八九十]{1,3})\s*"
    + _DAY_END
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


def _date_spans(text: str) -> list[tuple[int, int, str]]:
    """All dates in ``text`` as (start, end, ISO date), in text order."""
    found: set[tuple[int, int, str]] = set()
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            iso = _valid(int(m["y"]), int(m["m"]), int(m["d"]))
            if iso:
                found.add((m.start(), m.end(), iso))
    for m in _CN_DATE.finditer(text):
        year = int("".join(str(_CN_DIGITS[c]) for c in m["y"]))
        iso = _valid(year, _cn_number(m["m"]), _cn_number(m["d"]))
        if iso:
            found.add((m.start(), m.end(), iso))
    return sorted(found)


def find_dates(text: str) -> list[tuple[int, str]]:
    """All dates in ``text`` as (offset, ISO date), in text order."""
    return [(start, iso) for start, _, iso in _date_spans(text)]


def parse_date(text: str) -> str | None:
    """The first date in ``text`` as ISO ``YYYY-MM-DD`` (any common Chinese form), else None."""
    dates = find_dates(fix_ocr_digits(normalize_text(text)))
    return dates[0][1] if dates else None


# The label right before a date: any short label with a colon, or one ending in 日期/时间 without.
_DATE_LABEL_BEFORE = re.compile(
    rf"(?P<lab>[{_CJK}()（）]{{1,12}})[ \t]*[:：=][ \t]*$"
    rf"|(?P<lab2>[{_CJK}]{{0,8}}(?:日[ \t]*期|时[ \t]*间|曰期))[ \t]*$"
)
# Dates that belong to the archive, the printer or a validity period, not to the document.
_NOT_DOC_DATE = re.compile(r"归档|打印|印发|收文|登记|保管|立卷|移交|著录|有效期|截止|出生|失效")
# Schedule dates a document talks about (申请开工日期, 计划竣工日期) are the project's, not the document's.
_SCHEDULE_DATE = re.compile(r"开工|竣工|复工|停工|计划|预计|拟|工期|期限")
_DOC_DATE_WORDS = re.compile(r"填报|填表|签发|发文|成文|报告日期|出具|签订|签署|发证|核发|批准日期|落款|制表|报出")
_PLAIN_DATE_WORDS = re.compile(r"^(?:日期|时间|曰期)$|编制|审核|审批|签字|签名|签章")
_TIME_AFTER = re.compile(r"^[ \t]*(?:\d{1,2}[:：]\d{2}(?:[:：]\d{2})?)?[ \t]*(?:$|[ \t])")


def _date_tier(text: str, line_start: int, start: int, end: int) -> int | None:
    """How strongly a date is the document's: 0 document label (填报/签发), 1 plain 日期, 2 any other
    label (a record's 检查日期 is its date), 3 free-standing (signature); None for archive/printing
    dates and dates inside prose."""
    before = text[line_start:start]
    line_end = text.find("\n", end)
    after = text[end: len(text) if line_end < 0 else line_end]
    window = before[-16:]
    m = _DATE_LABEL_BEFORE.search(window)
    if m:
        label = re.sub(r"\s", "", m["lab"] or m["lab2"])
        if _NOT_DOC_DATE.search(label) or _SCHEDULE_DATE.search(label):
            return None
        lead = before[: len(before) - len(window) + m.start()]
        if lead and lead[-1] in "，,。、":
            return None  # "…，计划开工日期2021年4月8日，…": a date the prose reports
        if _DOC_DATE_WORDS.search(label):
            return 0
        if _PLAIN_DATE_WORDS.search(label):
            return 1
        return 2
    if _NOT_DOC_DATE.search(before[-8:]):
        return None
    standalone_before = not before.strip() or before[-1] in " \t)）"
    if standalone_before and _TIME_AFTER.match(after) and not re.match(r"[ \t]*(?:至|到|-|~|起|前|后)", after):
        return 3
    return None  # in running text: an event the document talks about


def _doc_date(text: str) -> str | None:
    best: tuple[int, int, str] | None = None  # (tier, order key, iso)
    line_starts = [pos for pos, _ in _lines(text)]
    li = 0
    for start, end, iso in _date_spans(text):
        while li + 1 < len(line_starts) and line_starts[li + 1] <= start:
            li += 1
        tier = _date_tier(text, line_starts[li], start, end)
        if tier is None:
            continue
        # Labelled tiers: the first one wins (header fields); free-standing: the last (the closing
        # signature date).
        key = -start if tier == 3 else start
        if best is None or (tier, key) < best[:2]:
            best = (tier, key, iso)
    return best[2] if best else None


# ------------------------------------------------------------------------------- project name
_PROJECT_WORD = (r"(?<!分部)(?<!分项)(?<!子分部)(?<!检验批)(?<!分郜)"
                 r"(?:" + "|".join(_spaced(w) for w in ("单位工程", "子单位工程", "建设工程", "工程项目", "建设项目",
                                                          "用地项目", "工程", "项目")) + r")[ \t]*名[ \t]*称")
# "工程名称及部位：…" holds more than the project; prose ("注明使用工程名称及供货数量") is no field.
_PROJECT_LABEL = re.compile(_PROJECT_WORD + r"(?![及和与、(（])" + _SEP + r"(?P<v>[^\n\t]{2,60}?)" + _STOP)
# A caption printed after its value (``滨江花园 （工程名称）``), or a row read right-to-left.
_PROJECT_CAPTION = re.compile(
    r"(?m)^[ \t]*(?P<v>[^\n]{2,60}?)[ \t]*[（(][ \t]*" + _PROJECT_WORD + r"[ \t]*[)）][ \t]*$"
)
_PROJECT_SWAPPED = re.compile(r"(?m)^[ \t]*(?P<v>[^\n \t:：]{4,60})[ \t]+" + _PROJECT_WORD + r"[ \t]*$")
_PROJECT_INLINE = re.compile(r"关于(?P<v>[^\n，。]{2,50}?(?:工程|项目))(?:的|建设|施工|项目建议书|可行性|初步设计|规划|立项)")
_DOC_KINDS = r"(?:可行性研究报告|项目建议书|初步设计|施工图设计|设计方案|环境影响报告|规划|立项)"
_PROJECT_ABOUT = re.compile(r"关于(?P<v>[^\n，。]{4,50}?)" + _DOC_KINDS + r"[^\n]{0,12}?(?:的)?(?:批复|复函|意见|通知|决定)")
# System exports: "项目=…", "工程:…"
_PROJECT_KEY = re.compile(r"(?:^|[\s,，;；|｜])(?:项目|工程)[ \t]*[=:：][ \t]*(?P<v>[^\n\t,，;；|｜=]{4,60}?)" + _STOP)
# Contractor's site office: "XX建设有限公司 滨江花园二期3#住宅楼项目部" / "…项目经理部"
_PROJECT_FOOTER = re.compile(r"(?:公司|集团)(?!有限|股份|公司)[ \t]*(?P<v>[^\s]{4,40}?)(?:项目经理部|项目部|项目监理部)(?=\s|$)")
# Where a project name ends: the head nouns of Chinese project names, with an optional phase.
_HEAD = (r"(?:工程|项目|大厦|广场|中心|花园|家园|小区|公寓|厂房|裙房|车库|地下室|地块|楼|房|馆|院|(?<!旁)站|厂|大桥|桥"
         r"|隧道|管廊|管网|苑|园|府|湾|城|庭|邸|座|学校|中学|小学|酒店)(?:[(（]?[一二三四五六七八九十\d]+期[)）]?)?")
_HEAD_END = re.compile(_HEAD)
_ENDS_ON_HEAD = re.compile(_HEAD + "$")
# Organisations, not projects, even where their names end like one (…档案馆, …检测中心, …项目监理部).
_ORG_END = re.compile(r"(?:公司|集团|监理部|项目部|经理部|档案馆|监督站|管理站|检测站|检测中心|管理中心|研究院|设计院|研究总院"
                      r"|监制|政府)$|有限|公司")
# Words of a sentence, never of a name ("…位于成都市…", "…部位为本工程").
_NOT_IN_NAME = re.compile(r"名称|序号|单位|日期|编号|的|位于|部位|为本|:|：|有关|相关")
# What may follow a name's last head without making that head part of a longer word: "…楼工程款",
# "…楼工程暂停令" (工程款, 工程暂停令 are words of their own), "…项目经理", a doubled "…工程工程", or a
# building part ("…1#楼屋面").
_NOT_AFTER = {
    "工程": re.compile(r"款|量|师|部|费|暂停|延期|变更|洽商|概况|移交|档案|照片|开工|复工|竣工|名称|编号|资料"),
    "项目": re.compile(r"部|经理|负责|监理部|监理机构|管理部|管理人员|建议书|总监|评估|代码|编号|名称|技术负责"),
}
_NOT_AFTER_ANY = re.compile(r"屋面|外墙|底板|顶板|墙体|梁板|卫生间|核心筒|井道|机房|承台")
_NAME_CHARS = re.compile(rf"[{_CJK}A-Za-z0-9#~、()（）\-—·]+")
_LEAD = re.compile(r"^(?:我方就|我方|我司|现将|关于|报送的|报来的|就|对|将|为|在|由|于|该|本|已|请|按)+")
_GENERIC = re.compile(r"^(?:本|该|此|各|主体|土建|安装|隐蔽|分部|分项|子分部|单位|建设|市政|建筑|装饰|装修|防水|节能"
                      r"|附属|室外|配套|人防|消防|智能化|设备|检验批|项目|工程|管网|房屋|岩土|地基|基础|钢结构|幕墙"
                      r"|园林|绿化|道路|桥梁|隧道|机电|电气|给排水|暖通|通风|空调|综合|管廊|公路|水利|专业|施工总承包)*"
                      r"(?:工程|项目)$")
# Building parts that follow a project in prose ("对X地下二层底板的…", "X裙房屋面", "X主楼核心筒").
_PART = re.compile(r"地下[一二三四\d]层|地下室(?:外墙|顶板|底板)|裙房屋面|[\d#~、]+楼屋面|底板|顶板|屋面|外墙|墙体|梁板"
                   r"|核心筒|卫生间|井道|设备机房|机房|承台|室外管网|标准层|主楼|[一二三四五六七八九十\d]+层")
# A phrase that runs on into a company name is part of that name ("青岛市政工程|设计研究总院").
_COMPANY_NEXT = re.compile(rf"^[{_CJK}A-Za-z0-9()（）]{{0,12}}?{_UNIT_SUFFIX}(?![{_CJK}])|^(?:有限|股份|集团)")
_BARE_LINE = re.compile(rf"(?m)^[ \t]*(?P<v>[{_CJK}A-Za-z0-9#~、()（）\-—·]{{5,40}})[ \t]*$")
_SUBJECT = re.compile(r"(?:流程标题|标题|主题|事由)[ \t]*[:：][ \t]*(?P<v>[^\n]{4,80})")
# Prose that introduces the project: "我方就X…相关工作", "对X…进行了核查", "现将X…方面的情况".
_PROSE_ANCHOR = re.compile(rf"(?:我方就|现将|报送的|报来的|申报的|就|对)(?P<v>[{_CJK}A-Za-z0-9#~、()（）\-—·]{{5,50}})")


def _clean_value(value: str) -> str | None:
    value = value.strip(" \t:：;；,，。|｜_-—")
    value = re.sub(r"\s{2,}.*$", "", value)
    if len(value) < 2 or re.fullmatch(r"[\s_\-—/]*", value) or _MASK.search(value):
        return None
    return value


def _project_like(value: str) -> bool:
    """A plausible project name: ends on a project head noun, not a bare generic term or a label."""
    value = re.sub(r"\s", "", value)
    return (len(value) >= 4 and bool(_ENDS_ON_HEAD.search(value)) and not _GENERIC.match(value)
            and not _ORG_END.search(value)
            and not _NOT_IN_NAME.search(value) and not _MASK.search(value))


def _name_ends(text: str, lo: int = 0, hi: int | None = None) -> list[int]:
    """Offsets in ``text[lo:hi]`` where a project name may end."""
    hi = len(text) if hi is None else hi
    ends = []
    for m in _HEAD_END.finditer(text, lo, hi):
        word = m.group(0)[:2]
        rule = _NOT_AFTER.get(word)
        if rule and (rule.match(text, m.end()) or text[max(0, m.start() - 2): m.start()] == word):
            continue
        before = text[max(0, m.start() - 2): m.start()]
        if word == "工程" and before == "建设" and _ENDS_ON_HEAD.search(text, lo, m.start() - 2):
            continue  # "…3#住宅楼建设工程规划许可证": the certificate's words, not the name
        if not _NOT_AFTER_ANY.match(text, m.end()):
            ends.append(m.end())
    return ends


def _in_company(text: str, start: int, end: int) -> bool:
    return bool(_COMPANY_NEXT.match(text[end:end + 24]))


def _repeated_name(text: str, avoid: set[str]) -> str | None:
    """The longest project-shaped phrase a document repeats (title, body, footer repeat the project)."""
    best: tuple[int, int, str] | None = None
    for end in _name_ends(text):
        for start in range(max(0, end - 40), end - 4):
            sub = text[start:end]
            if not _NAME_CHARS.fullmatch(sub) or text.count(sub) < 2:
                continue
            name = _LEAD.sub("", sub)
            if not _project_like(name) or any(name in a for a in avoid):
                break
            if any(_in_company(text, i, i + len(sub)) for i in _find_all(text, sub)):
                break
            if best is None or (len(name), text.count(sub)) > best[:2]:
                best = (len(name), text.count(sub), name)
            break  # the longest start for this end has been found
    return best[2] if best else None


def _find_all(text: str, sub: str) -> list[int]:
    out, i = [], text.find(sub)
    while i >= 0:
        out.append(i)
        i = text.find(sub, i + 1)
    return out


def _leading_name(text: str, start: int, stop: int, avoid: set[str]) -> str | None:
    """The longest project-shaped phrase starting at ``start`` (a subject line, a prose anchor),
    cut before the first building part the sentence goes on to (``X|地下二层底板``)."""
    part = _PART.search(text, start + 4, stop)
    if part:
        stop = part.start()
    for end in reversed(_name_ends(text, start, stop)):
        cand = _LEAD.sub("", text[start:end])
        if _project_like(cand) and not _in_company(text, start, end) and not any(cand in a for a in avoid):
            return cand
    return None


def _project_name(text: str, units: tuple[Unit, ...] = ()) -> str | None:
    # Labelled fields and key=value exports, in text order (the project heads a form).
    labelled = sorted((m.start(), m["v"]) for p in (_PROJECT_LABEL, _PROJECT_KEY) for m in p.finditer(text))
    for _, raw in labelled:
        value = _clean_value(raw)
        if value:
            return value
    for m in _PROJECT_CAPTION.finditer(text):
        value = _clean_value(m["v"])
        if value:
            return value
    for m in _PROJECT_SWAPPED.finditer(text):
        value = _clean_value(m["v"])
        if value and _project_like(value):
            return value
    avoid = {u.name for u in units}
    for pattern in (_PROJECT_INLINE, _PROJECT_ABOUT, _PROJECT_FOOTER):
        for m in pattern.finditer(text):
            value = _clean_value(m["v"])
            if not value or _GENERIC.match(value):
                continue
            if pattern is not _PROJECT_FOOTER:
                # "关于X选址规划意见的…": the name is the project-shaped head of what 关于 introduces.
                value = _leading_name(text, m.start("v"), m.end("v"), avoid) or value
            return value
    found = _repeated_name(text, avoid)
    if found:
        return found
    for pattern in (_SUBJECT, _PROSE_ANCHOR):
        for m in pattern.finditer(text):
            found = _leading_name(text, m.start("v"), m.end("v"), avoid)
            if found:
                return found
    # A line that is nothing but a project-shaped name (a cover line, a value whose label was lost).
    for m in _BARE_LINE.finditer(text):
        value = m["v"]
        if _project_like(value) and not _PART.search(value) and not any(value in a for a in avoid) \
                and not _in_company(text, m.start("v"), m.end("v")):
            return value
    return None


# -------------------------------------------------------------------------------- doc number
_WENHAO = re.compile(
    rf"(?P<p>[A-Za-z{_CJK}]{{1,12}})\s*[〔\[［(（【]\s*(?:19|20)\d{{2}}\s*[〕\]］)）】]\s*(?:第\s*)?\d{{1,5}}\s*号"
)
# Words that end a lead-in before a cited 文号 ("立项批准文号为苏发改投资〔2021〕418号").
_WENHAO_LEAD = re.compile(r"^.*(?:文号|字号|编号|为|是|见|据|按|依)")
_OWN_NUMBER_BEFORE = re.compile(r"^[ \t]*(?:(?:发文字号|文号|文件编号|编号)[ \t]*[:：]?[ \t]*)?$")
_OWN_NUMBER_AFTER = re.compile(r"^[ \t]*(?:$|签发人|签发|密级|[ \t]{2,})")
# 编号 qualified by the document (报告编号) or nothing; an object's number (出厂编号, 试块编号) is not ours.
_DOC_NUMBER_QUALIFIERS = ("报告", "文件", "表格", "表式", "资料", "记录", "合同", "许可证", "证书", "批准", "委托",
                          "项目", "工程", "档案", "表", "单", "通知", "图纸")
_NUMBER_LABEL = re.compile(
    rf"(?P<q>[{_CJK}]{{0,4}}?)(?:{_spaced('编号')}"
    rf"|(?<![{_CJK}])(?:{'|'.join(_spaced(w) for w in ('表号', '图号', '单号', '流水号', '证号', '文号'))})"
    r"|(?<![A-Za-z])NO\.?)"
    r"(?:[ \t]*[:：=][ \t]*|[ \t]+)"
    r"(?P<v>[A-Za-z0-9\u4e00-\u9fff〔〕\[\]()（）\-—_/#.·]{2,40})",
    re.IGNORECASE,
)


def _own_wenhao(text: str) -> str | None:
    for m in _WENHAO.finditer(text):
        prefix = m["p"]
        lead = _WENHAO_LEAD.match(prefix)
        start = m.start() + (lead.end() if lead else 0)
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", m.end())
        before = text[line_start:start]
        after = text[m.end(): len(text) if line_end < 0 else line_end]
        if start < m.end() - 6 and _OWN_NUMBER_BEFORE.match(before) and _OWN_NUMBER_AFTER.match(after):
            return re.sub(r"\s+", "", text[start: m.end()])
    return None


def _doc_number(text: str) -> str | None:
    own = _own_wenhao(text)
    if own:
        return own
    for m in _NUMBER_LABEL.finditer(text):
        q = m["q"].translate(_OCR_BACK)
        if q and not q.endswith(_DOC_NUMBER_QUALIFIERS):
            continue
        value = m["v"].strip("：:;；,，。")
        # Stop at the next label glued on by OCR ("编号：C5-1-003日期：…").
        value = re.split(r"(?:日期|时间|工程|项目|单位|名称|填报|紧急|状态)", value)[0]
        if not re.search(r"\d", value) or len(value) < 2 or _MASK.search(value):
            continue
        if len(re.findall(rf"[{_CJK}]", value)) > len(value) * 2 / 3:
            continue  # words, not a number (建施8 and 第127号 are numbers)
        if _date_spans(value) and _date_spans(value)[0][1] - _date_spans(value)[0][0] >= len(value) - 1:
            continue  # a date under a 编号 label is a misread cell
        return value
    return None


# ------------------------------------------------------------------------------------- units
_ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "建设单位": ("建设单位", "建设方", "业主单位", "业主", "发包单位", "发包人", "发包方", "招标人"),
    "施工单位": ("施工总承包单位", "总承包单位", "施工单位", "施工企业", "施工方", "承建单位", "承包单位", "承包人",
             "承包方", "总包单位"),
    "监理单位": ("监理单位", "项目监理机构", "监理机构", "监理方"),
    "设计单位": ("设计单位", "设计方"),
    "勘察单位": ("勘察单位", "勘测单位"),
    "检测机构": ("检测机构", "检测单位"),
}
_ROLE_OF = {w.replace(" ", ""): role for role, words in _ROLE_WORDS.items() for w in words}
_ROLE_ALT = "|".join(_spaced(w) for w in sorted(_ROLE_OF, key=len, reverse=True))
_UNIT_NAME = rf"[^\n\t:：;；,，。|｜=]{{2,40}}?{_UNIT_SUFFIX}"
_UNIT_END = rf"(?=\s|$|[,，;；。)）(（|｜]|{_NEXT_LABEL})"
_UNIT_LABEL = re.compile(
    rf"(?P<role>{_ROLE_ALT})(?:名称)?(?:[ \t]*[（(][^)）:\n]{{0,6}}[)）])?[ \t]*[)）]?"
    rf"(?:[ \t]*(?:[:：=]|为)[ \t]*|[ \t]+)(?P<v>{_UNIT_NAME}){_UNIT_END}"
)
# GB/T 50319 forms print the role as a caption after the blank: "致：XX监理有限公司 （项目监理机构）".
_UNIT_CAPTION = re.compile(
    rf"(?m)^[ \t]*(?:致[ \t]*[:：]?[ \t]*)?(?P<v>{_UNIT_NAME})[ \t]*(?:[（(](?:盖章|公章|章)[)）])?[ \t]*[（(][ \t]*"
    rf"(?:致[ \t]*[（(:：]?)?[ \t]*(?P<role>{_ROLE_ALT})(?:名称)?[ \t]*[)）]{{1,2}}[ \t]*$"
)
# Exports shorten the keys: "建设：XX置业有限公司｜设计：XX设计院有限公司".
_UNIT_SHORT_KEY = re.compile(
    rf"(?:^|(?<=[\s,，;；|｜]))(?P<role>建设|施工|监理|设计|勘察|检测)[ \t]*[:：=][ \t]*(?P<v>{_UNIT_NAME}){_UNIT_END}",
    re.MULTILINE,
)
_UNIT_SWAPPED = re.compile(rf"(?m)^[ \t]*(?P<v>{_UNIT_NAME})[ \t]+(?P<role>{_ROLE_ALT})(?:名称)?[ \t]*$")
# A company's site office names its role: 项目经理部/项目部 is the contractor's, 项目监理部 the supervisor's.
_SITE_OFFICE = re.compile(
    r"(?m)(?:^|(?<=[ \t]))(?P<v>[^\s:：;；,，。|｜=]{2,40}?(?:有限责任公司|股份有限公司|有限公司|公司))[ \t]*"
    r"[^\n:：]{0,50}?(?P<kind>项目监理部|项目监理机构|项目经理部|项目部)(?=\s|$)"
)


def _units(text: str) -> tuple[Unit, ...]:
    seen: dict[tuple[str, str], Unit] = {}

    def add(role: str, raw: str) -> None:
        name = _clean_value(raw)
        if name and not re.search(r"\s", name):
            seen.setdefault((role, name), Unit(role=role, name=name))

    for pattern in (_UNIT_LABEL, _UNIT_CAPTION, _UNIT_SWAPPED):
        for m in pattern.finditer(text):
            add(_ROLE_OF[re.sub(r"\s", "", m["role"]).translate(_OCR_BACK)], m["v"])
    for m in _UNIT_SHORT_KEY.finditer(text):
        add(_ROLE_OF[m["role"] + ("机构" if m["role"] == "检测" else "单位")], m["v"])
    for m in _SITE_OFFICE.finditer(text):
        add("监理单位" if "监理" in m["kind"] else "施工单位", m["v"])
    return tuple(seen.values())


# -------------------------------------------------------------------------------- discipline
# Trade vocabulary per 专业, weighted: 3 = a GB 50300 分部工程 or a name only that trade uses,
# 1 = a term that leans to the trade. Single characters are avoided (梁 and 于 are also surnames).
_DISCIPLINES: tuple[tuple[str, dict[str, int]], ...] = (
    ("电梯", {"电梯": 3, "自动扶梯": 3, "自动人行道": 3, "扶梯": 2, "曳引": 2, "层门": 2, "限速器": 2, "安全钳": 2,
            "轿厢": 2, "对重": 1, "缓冲器": 1, "导轨": 1, "井道": 1}),
    ("智能", {"智能建筑": 3, "综合布线": 3, "安防": 2, "视频监控": 2, "门禁": 2, "楼宇自控": 3, "弱电": 2,
            "信息网络": 2, "建筑设备监控": 3, "光纤": 2, "光缆": 2, "纤芯": 2, "配线架": 2, "交换机": 2, "广播": 2,
            "入侵报警": 2, "有线电视": 2, "卫星": 1, "子系统": 1, "一卡通": 2, "信息发布": 2, "网络": 1,
            "监控": 1, "机房": 1, "系统检测": 1, "摄像机": 2, "服务器": 2, "通信网络": 2, "GB 50339": 3,
            "停车场管理": 2, "对讲": 1}),
    ("暖通", {"通风与空调": 3, "通风": 2, "空调": 2, "风管": 2, "风机": 2, "采暖": 2, "供暖": 2, "散热器": 2,
            "冷水机组": 2, "漏风量": 2, "风量": 2, "风口": 1, "风阀": 1, "冷却塔": 2, "锅炉": 2, "新风": 1,
            "防排烟": 2, "换热": 1, "制冷": 1, "多联机": 2, "风机盘管": 2}),
    ("给排水", {"建筑给水排水": 3, "给排水": 3, "给水": 2, "排水": 2, "消火栓": 2, "喷淋": 1, "灌水试验": 2, "通球": 2,
             "管道冲洗": 2, "水压试验": 2, "卫生器具": 2, "水泵": 1, "雨水": 1, "闭水": 1, "检查井": 1, "管道": 1}),
    ("电气", {"建筑电气": 3, "电气": 2, "配电": 2, "电缆": 2, "接地电阻": 2, "绝缘电阻": 2, "照明": 2, "桥架": 2,
            "防雷": 2, "开关柜": 2, "配电箱": 2, "母线": 1, "漏电": 1, "断路器": 1, "变压器": 1, "发电机": 1,
            "灯具": 1, "插座": 1, "等电位": 1, "接地": 1}),
    ("节能", {"建筑节能": 3, "节能": 2, "保温": 2, "传热系数": 2, "导热系数": 2, "热工": 1, "气密性": 1, "绝热": 1}),
    ("消防", {"消防": 2, "火灾自动报警": 3, "自动喷水": 2, "灭火": 2, "防火": 1, "耐火": 1, "疏散": 1}),
    ("岩土", {"岩土": 3, "勘察": 2, "持力层": 2, "地基承载力": 2, "土层": 1, "地下水": 1, "钻孔": 1, "液化": 1,
            "压缩模量": 2, "基坑": 2, "土方": 1, "地质": 2, "桩基": 2, "灌注桩": 1, "锚杆": 1, "回填土": 1, "钎探": 2,
            "验槽": 2, "击实": 2}),
    ("测量", {"测量": 2, "放线": 2, "定位": 1, "高程": 1, "水准": 1, "控制点": 1, "坐标": 1, "沉降观测": 2,
            "垂直度": 1, "验线": 2, "标高": 1, "抄测": 2, "全站仪": 2, "钉桩": 2, "观测点": 1}),
    ("结构", {"主体结构": 3, "地基与基础": 3, "钢筋": 2, "混凝土": 2, "模板": 1, "砌体": 2, "钢结构": 2, "预应力": 2,
            "焊接": 1, "试块": 2, "钢材": 2, "水泥": 1, "砂浆": 1, "屈服强度": 2, "抗拉强度": 1, "抗压强度": 1,
            "剪力墙": 1, "楼板": 1, "外加剂": 1, "螺栓": 1, "构件": 1, "地基": 1, "基础": 1, "河砂": 2,
            "机制砂": 2, "碎石": 1, "卵石": 1, "骨料": 1, "GB 50204": 3, "GB 50203": 3, "GB 50205": 3}),
    ("建筑", {"建筑装饰装修": 3, "装饰": 2, "装修": 2, "门窗": 2, "幕墙": 2, "防水": 2, "抹灰": 2, "吊顶": 2, "地面": 1,
            "屋面": 2, "涂饰": 2, "玻璃": 1, "石材": 1, "陶瓷砖": 2, "饰面": 1, "涂料": 1, "隔墙": 1, "栏杆": 1,
            "GB 50210": 3, "GB 50207": 3, "GB 50208": 3}),
    ("造价", {"造价": 3, "估算": 2, "概算": 2, "预算": 2, "结算": 2, "决算": 2, "计价": 2, "工程款": 2, "预备费": 2,
            "价款": 1, "工程量清单": 2, "控制价": 2, "费用": 1, "索赔": 1, "金额": 1}),
    ("规划", {"规划许可": 3, "城乡规划": 2, "规划条件": 2, "容积率": 2, "建筑密度": 1, "绿地率": 1, "选址": 2,
            "规划": 1}),
    ("土地", {"建设用地批准": 3, "土地使用": 2, "土地": 2, "用地": 1, "征收": 1, "征地": 2, "出让": 1, "宗地": 2}),
    ("园林", {"园林": 3, "绿化": 2, "苗木": 2, "乔木": 2, "灌木": 2, "草坪": 1}),
)
_DISCIPLINE_NAMES = tuple(name for name, _ in _DISCIPLINES) + ("装饰装修", "钢结构", "幕墙")
_DISCIPLINE_LABEL = re.compile(r"专[ \t]*业[ \t]*[:：=][ \t]*(?P<v>[\u4e00-\u9fff]{2,4})")
# Lines every archived page may carry whatever its trade: stamps, headers, copy notes.
_BOILERPLATE_LINE = re.compile(r"归档章|档号|保管期限|监制|复印件|城市建设档案馆|统一用表|打印人|一式[两二三四五六]份")
_MIN_DISCIPLINE_SCORE = 3


def discipline_of(text: str, *, exclude: tuple[str, ...] = ()) -> str | None:
    """专业 from a labelled ``专业：`` field, else weighted trade vocabulary; None when the evidence is
    thin (approvals, contracts and general forms belong to no single trade). ``exclude`` removes names
    (the project, the parties) whose words say nothing about the document's trade."""
    m = _DISCIPLINE_LABEL.search(text)
    if m:
        for name in _DISCIPLINE_NAMES:
            if m["v"].startswith(name):
                return name
    body = "\n".join(ln for ln in text.split("\n") if not _BOILERPLATE_LINE.search(ln))
    for name in sorted((e for e in exclude if e), key=len, reverse=True):
        body = body.replace(name, " ")
    best, best_score = None, 0
    for name, words in _DISCIPLINES:
        score = sum(body.count(w) * weight for w, weight in words.items())
        if score > best_score:
            best, best_score = name, score
    return best if best_score >= _MIN_DISCIPLINE_SCORE else None


# ------------------------------------------------------------------------------------ public
def extract_tags(text: str, segmenter: Segmenter | None = None, *, top_k_keywords: int = 8) -> Tags:
    """All tags of one document's text. ``segmenter`` is needed only for keywords."""
    norm = normalize_text(text)
    digits = fix_ocr_digits(norm)
    units = _units(norm)
    project = _project_name(norm, units)
    names = (project or "", *(u.name for u in units))
    keywords: tuple[str, ...] = ()
    if segmenter:
        # The parties and the project are tags of their own; keywords should say what the document is about.
        # Dates are tags too (and 二〇一九年十二月十三日 would leave 十二月 / 十三日 as "keywords").
        body = norm
        for start, end, _ in reversed(_date_spans(norm)):
            body = body[:start] + " " + body[end:]
        for name in sorted((n for n in names if n), key=len, reverse=True):
            body = body.replace(name, " ")
        keywords = tuple(segmenter.keywords(body, top_k_keywords))
    return Tags(
        project_name=project,
        doc_number=_doc_number(digits),
        doc_date=_doc_date(_fix_date_digits(digits)),
        units=units,
        discipline=discipline_of(norm, exclude=names),
        keywords=keywords,
    )
