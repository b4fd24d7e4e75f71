"""Per-document drawing context shared by all template families: values for any field label."""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, field

from models.catalogue import Item

from samplegen.doc import Block
from samplegen.lexicon import GENERIC_PARTS, GENERIC_RESULTS
from samplegen.profile import ItemProfile, Split
from samplegen.world import World, format_date, person, shift

_UNIT_LABELS = (
    ("建设单位", "建设单位"), ("业主", "建设单位"), ("发包", "建设单位"), ("委托单位", "建设单位"),
    ("施工单位", "施工单位"), ("承包", "施工单位"), ("承建", "施工单位"), ("施工企业", "施工单位"),
    ("总包", "施工单位"), ("监理单位", "监理单位"), ("监理机构", "监理单位"), ("设计单位", "设计单位"),
    ("勘察单位", "勘察单位"), ("检测单位", "检测机构"), ("检测机构", "检测机构"),
)
_STRUCTURES = ("框架结构", "框架-剪力墙结构", "剪力墙结构", "框架-核心筒结构", "钢结构", "砖混结构", "钢筋混凝土框架结构")


def name_terms(name: str) -> tuple[str, ...]:
    """Noun chunks of an item name (钢结构用防火涂料复试报告 → 钢结构用防火涂料), for items without knowledge."""
    core = re.sub(r"[（(].*?[)）]", "", name)
    core = re.sub(r"(记录|报告|报审表|申请表|审批表|申请书|通知单|检测文件|试验记录|文件|材料|表|单|书)$", "", core)
    parts = [x for x in re.split(r"[、，,及和与等]", core) if len(x) >= 2]
    return tuple(parts) or (core or name,)


@dataclass
class Draft:
    """What a family writes before perturbation: blocks plus the tags it knows it printed."""

    blocks: list[Block]
    title: str
    number: str = ""
    date: dt.date | None = None
    layout: str = "form"


@dataclass
class Ctx:
    """Randomness, world and item wording for one document; helpers return printable strings."""

    rng: random.Random
    w: World
    p: ItemProfile
    item: Item
    split: Split
    date_style: str = ""
    force_title: str = ""  # pins the printed title (demo inbox: a 技术核定单 under its local name)
    used_units: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not self.date_style:
            self.date_style = self.rng.choice(("cn", "cn", "cn", "dot", "slash", "iso", "upper", "cn_pad", "dot_short"))

    # --- basic pieces ---------------------------------------------------------------------------
    def date(self, d: dt.date | None = None) -> str:
        return format_date(d or self.w.date, self.rng, self.date_style)

    def other_date(self, lo: int = -30, hi: int = -1) -> str:
        return format_date(shift(self.w.date, self.rng, lo, hi), self.rng, self.date_style)

    def unit(self, role: str) -> str:
        self.used_units.add(role)
        return self.w.units[role]

    def person(self, role: str | None = None) -> str:
        return self.w.people[role] if role and role in self.w.people.names else person(self.rng)

    def title(self, *, standard_share: float = 0.55) -> str:
        return self.force_title or self.p.title(self.rng, standard_share=standard_share)

    def body(self, k: int) -> list[str]:
        return self.p.body(self.rng, k)

    def keyword(self) -> str:
        """A distinctive term: knowledge keywords, else a noun chunk of the catalogue item name."""
        if self.p.keywords:
            return self.rng.choice(self.p.keywords)
        return self.rng.choice(name_terms(self.item.name))

    def issuer_role(self) -> str:
        """Catalogue issuer mapped to a unit role of the world (government issuers map to 建设单位)."""
        for role in ("建设单位", "施工单位", "监理单位", "设计单位", "勘察单位", "检测机构"):
            if role in self.p.issuer or self.p.issuer in role:
                return role
        if "检测" in self.p.issuer or "厂" in self.p.issuer:
            return "检测机构"
        return "建设单位"

    # --- field values ---------------------------------------------------------------------------
    def value(self, label: str) -> str:
        """A plausible value for a field label: knowledge values first, then by label keyword."""
        rng = self.rng
        known = self.p.values.get(label)
        if known:
            return rng.choice(known)
        if re.search(r"工程名称|项目名称|工程项目|单位工程|用地项目", label):
            return self.w.project
        for word, role in _UNIT_LABELS:
            if word in label:
                return self.unit(role)
        if "日期" in label or "时间" in label:
            return self.other_date(-20, 0)
        if "编号" in label or "证号" in label:
            return f"{rng.choice('ABCDEFGHJK')}{rng.randint(100, 99999)}"
        if re.search(r"部位|区段|范围|层", label):
            return rng.choice(GENERIC_PARTS)
        if re.search(r"地点|地址|位置|坐落", label):
            return self.w.address
        if re.search(r"结论|结果|意见|评定", label):
            return rng.choice(GENERIC_RESULTS)
        if re.search(r"负责人|经理|姓名|人员|工程师|记录人|检查人|主持", label):
            return self.person()
        if "面积" in label:
            return f"{rng.randint(800, 98000):,}㎡".replace(",", rng.choice((",", "")))
        if re.search(r"金额|价|投资|费", label):
            return rng.choice((f"{rng.randint(50, 90000) / 10:.1f}万元", f"¥{rng.randint(10000, 9999999):,}.00元"))
        if re.search(r"结构", label):
            return rng.choice(_STRUCTURES)
        if re.search(r"数量|组数|数", label):
            return f"{rng.randint(1, 60)}{rng.choice(('组', 't', '件', '个', 'm³', '点', '台'))}"
        if re.search(r"规格|型号|等级", label):
            return rng.choice(("HRB400E Φ25", "C30", "P.O 42.5", "DN100", "YJV-4×95+1×50", "M10", "SBS Ⅱ型 4mm", "见附表"))
        if re.search(r"依据|标准|规范", label):
            return rng.choice(("GB 50204-2015", "GB 50300-2013", "施工图及设计变更", "GB 50207-2012", "GB 50303-2015"))
        if re.search(r"工期|天数", label):
            return f"{rng.randint(5, 900)}日历天"
        if "电话" in label:
            return f"1{rng.randint(3, 9)}{rng.randint(100000000, 999999999)}"
        if re.search(r"名称|产品|设备|材料", label):
            return self.keyword()
        if re.search(r"专业|分部|分项|子分部", label):
            return self.p.discipline if rng.random() < 0.5 else self.keyword()
        return rng.choice((self.keyword(), "/", "详见附件", "符合要求", self.keyword()))

    def field_rows(self, labels: list[str], *, pairs: bool | None = None, colon: bool = False) -> list[Block]:
        """Label/value rows; ``pairs`` puts two label-value pairs per row as on printed forms."""
        pairs = self.rng.random() < 0.5 if pairs is None else pairs
        sep = self.rng.choice(("：", ":")) if colon else ""
        cells = [(f"{lab}{sep}", self.value(lab)) for lab in labels]
        rows: list[Block] = []
        step = 2 if pairs else 1
        for i in range(0, len(cells), step):
            flat: list[str] = []
            for lab, val in cells[i : i + step]:
                flat += [lab, val]
            rows.append(Block("row", tuple(flat)))
        return rows

    def spaced(self, label: str) -> str:
        """Letter-spaced labels (工 程 名 称) as many printed forms have them."""
        if len(label) <= 4 and self.rng.random() < 0.25:
            return " ".join(label)
        return label
