"""A synthetic but plausible world for one document: project, parties, people, dates and numbers.

Real archives name thousands of projects and companies; a classifier that sees only a few would learn
them instead of the document type. Everything here is combinatorial and drawn from one
``random.Random`` so a seed reproduces it exactly, with no module-level state.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

# (city, short form used in 文号, province short form, district names)
CITIES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("上海", "沪", "沪", ("浦东新区", "闵行区", "嘉定区", "松江区", "宝山区", "青浦区")),
    ("北京", "京", "京", ("朝阳区", "海淀区", "丰台区", "通州区", "大兴区", "顺义区")),
    ("广州", "穗", "粤", ("天河区", "番禺区", "白云区", "黄埔区", "南沙区", "海珠区")),
    ("深圳", "深", "粤", ("南山区", "福田区", "宝安区", "龙岗区", "龙华区", "光明区")),
    ("杭州", "杭", "浙", ("滨江区", "萧山区", "余杭区", "西湖区", "拱墅区", "临平区")),
    ("南京", "宁", "苏", ("江宁区", "浦口区", "栖霞区", "建邺区", "雨花台区", "六合区")),
    ("武汉", "武", "鄂", ("江夏区", "洪山区", "东西湖区", "蔡甸区", "汉阳区", "黄陂区")),
    ("成都", "成", "川", ("高新区", "双流区", "郫都区", "龙泉驿区", "新都区", "温江区")),
    ("重庆", "渝", "渝", ("渝北区", "江北区", "九龙坡区", "沙坪坝区", "巴南区", "璧山区")),
    ("天津", "津", "津", ("滨海新区", "西青区", "东丽区", "津南区", "北辰区", "武清区")),
    ("西安", "西", "陕", ("雁塔区", "未央区", "长安区", "灞桥区", "高陵区", "临潼区")),
    ("长沙", "长", "湘", ("岳麓区", "雨花区", "开福区", "望城区", "天心区", "芙蓉区")),
    ("苏州", "苏", "苏", ("吴中区", "相城区", "姑苏区", "吴江区", "虎丘区", "工业园区")),
    ("合肥", "合", "皖", ("蜀山区", "包河区", "瑶海区", "庐阳区", "肥西县", "长丰县")),
    ("济南", "济", "鲁", ("历下区", "历城区", "槐荫区", "长清区", "章丘区", "天桥区")),
    ("郑州", "郑", "豫", ("金水区", "中原区", "二七区", "惠济区", "管城回族区", "郑东新区")),
    ("福州", "榕", "闽", ("鼓楼区", "仓山区", "晋安区", "马尾区", "长乐区", "闽侯县")),
    ("昆明", "昆", "滇", ("五华区", "盘龙区", "官渡区", "西山区", "呈贡区", "晋宁区")),
    ("宁波", "甬", "浙", ("鄞州区", "海曙区", "江北区", "北仑区", "镇海区", "奉化区")),
    ("青岛", "青", "鲁", ("黄岛区", "崂山区", "李沧区", "城阳区", "市北区", "即墨区")),
    ("南昌", "洪", "赣", ("红谷滩区", "青山湖区", "新建区", "东湖区", "西湖区", "青云谱区")),
    ("石家庄", "石", "冀", ("长安区", "桥西区", "裕华区", "新华区", "鹿泉区", "栾城区")),
)

_ESTATE_A = ("滨江", "锦绣", "翠湖", "御景", "金地", "阳光", "世纪", "观澜", "紫荆", "和平", "江南", "香樟",
             "云栖", "书香", "碧桂", "万科", "龙湖", "融创", "保利", "绿城", "金域", "星河", "天悦", "东方",
             "青枫", "玉兰", "海棠", "桂语", "澜湾", "望江", "长岛", "凤凰", "逸景", "雅居", "明珠", "新城")
_ESTATE_B = ("花园", "家园", "雅苑", "华府", "公馆", "新城", "华庭", "小区", "名邸", "佳苑", "府", "湾", "里",
             "壹号院", "天地", "学府", "水岸", "尚城")
_ROADS = ("中山", "解放", "人民", "建设", "长江", "黄河", "滨湖", "科技", "创新", "迎宾", "望江", "新华", "文昌",
          "学府", "春江", "银湖", "金桥", "青年", "东环", "西环", "南环", "北环", "工业", "民生", "园区", "光谷")
_ORD = ("一", "二", "三", "四", "五", "六", "七", "八", "九")
_BRANDS = ("华信", "中兴", "恒泰", "瑞丰", "博远", "宏达", "科瑞", "鼎盛", "汇通", "信达", "天成", "联创", "华立",
           "嘉禾", "正泰", "中联", "万通", "新元", "海容", "德润", "和信", "东升", "华宇", "盛世", "启明")
_COMPANY_WORDS = ("城建", "建工", "华建", "宏大", "中天", "远大", "恒基", "城投", "鼎立", "广厦", "长城", "新世纪",
                  "大地", "中诚", "华东", "金鹰", "方圆", "安居", "众诚", "永盛", "弘业", "浩天", "鲁班", "筑城")
_SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何",
             "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田",
             "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁", "任", "沈", "欧阳")
_GIVEN = ("伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "秀", "霞",
          "平", "刚", "桂", "华", "建", "国", "志", "文", "斌", "鹏", "辉", "俊", "晨", "宇", "浩", "峰", "凯",
          "琳", "婷", "雪", "立", "新", "海", "云", "春", "东", "红", "玉", "德", "成", "林", "亮", "兵")

ROLES: tuple[str, ...] = ("建设单位", "施工单位", "监理单位", "设计单位", "勘察单位", "检测机构")

_CN_DIGITS = "〇一二三四五六七八九"


@dataclass(frozen=True)
class People:
    """Signers by role: project manager, chief supervisor, technical lead and so on."""

    names: dict[str, str]

    def __getitem__(self, role: str) -> str:
        return self.names[role]


@dataclass(frozen=True)
class World:
    """Everything about one project a document may mention, already drawn."""

    city: str
    city_short: str
    province_short: str
    district: str
    project: str
    address: str
    units: dict[str, str]
    people: People
    date: dt.date
    gov_prefix: str  # "上海市" / "杭州市滨江区"

    def gov(self, body: str) -> str:
        """Full name of a government body of this project's city (or district)."""
        return f"{self.gov_prefix}{body}"


def person(rng: random.Random) -> str:
    given = rng.choice(_GIVEN) + (rng.choice(_GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(_SURNAMES) + given


def _company(rng: random.Random, city: str, kind: str) -> str:
    word = rng.choice(_COMPANY_WORDS)
    brand = rng.choice(_BRANDS)
    if kind == "建设单位":
        return rng.choice((
            f"{city}{brand}置业有限公司", f"{city}{word}房地产开发有限公司", f"{city}城市建设投资集团有限公司",
            f"{city}市第{rng.choice(_ORD)}人民医院", f"{city}{brand}科技股份有限公司", f"{city}市教育局",
            f"{city}{brand}实业发展有限公司", f"{city}市政基础设施建设管理中心", f"{city}{word}产业园开发有限公司",
        ))
    if kind == "施工单位":
        return rng.choice((
            f"{city}{word}建设集团有限公司", f"中建{rng.choice(_ORD)}局第{rng.choice(_ORD)}建设有限公司",
            f"{city}{word}建筑工程有限公司", f"中铁{rng.choice(_ORD[:6])}局集团有限公司", f"{city}建工集团股份有限公司",
            f"{brand}建设工程有限公司", f"{city}{word}市政工程有限公司", f"{city}第{rng.choice(_ORD)}建筑工程公司",
        ))
    if kind == "监理单位":
        return rng.choice((
            f"{city}{word}建设监理有限公司", f"{city}{brand}工程咨询有限公司", f"{brand}工程管理咨询有限公司",
            f"{city}建设工程监理有限公司", f"{city}{word}工程项目管理有限公司",
        ))
    if kind == "设计单位":
        return rng.choice((
            f"{city}市建筑设计研究院有限公司", f"{city}{word}建筑设计院有限公司", f"{city}市政工程设计研究总院",
            f"{brand}建筑设计有限公司", f"中国{rng.choice(('建筑', '市政', '轻工业'))}{rng.choice(('西南', '东北', '华东', '中南'))}设计研究院有限公司",
        ))
    if kind == "勘察单位":
        return rng.choice((
            f"{city}{word}岩土工程勘察有限公司", f"{city}市勘察设计研究院", f"{brand}地质工程勘察院有限公司",
            f"{city}市岩土工程勘察设计院", f"{city}{word}勘测设计有限公司",
        ))
    return rng.choice((
        f"{city}市建设工程质量检测中心", f"{city}市建筑科学研究院检测中心", f"{city}{brand}检测技术有限公司",
        f"{city}{word}建设工程检测有限公司", f"{brand}工程质量检测有限公司",
    ))


def project_name(rng: random.Random, district: str) -> str:
    d = district.removesuffix("区").removesuffix("县") if rng.random() < 0.5 else district
    road, road2 = rng.sample(_ROADS, 2)
    est = rng.choice(_ESTATE_A) + rng.choice(_ESTATE_B)
    phase = rng.choice(("", "一期", "二期", "三期", "（一期）", "A地块", "B区"))
    bldg = rng.choice(("1#住宅楼", "3#住宅楼", "12号楼", "A座", "地下车库", "2#楼及地下室", "商业裙房", "5#、6#楼",
                       "幼儿园", "1#~8#楼", ""))
    return rng.choice((
        f"{est}{phase}{bldg}",
        f"{est}{phase}{bldg}",
        f"{road}路综合管廊工程",
        f"{road}路（{road2}路—{rng.choice(_ROADS)}路）道路改造工程",
        f"{d}第{rng.choice(_ORD)}人民医院门急诊综合楼",
        f"{d}第{rng.choice(_ORD)}中学教学楼改扩建工程",
        f"{rng.choice(_BRANDS)}产业园{rng.randint(1, 9)}#厂房",
        f"{rng.choice(_BRANDS)}大厦",
        f"{d}保障性住房（安置房）项目{rng.choice('ABCD')}地块",
        f"{road}污水处理厂提标改造工程",
        f"{rng.choice(_BRANDS)}科技研发中心{rng.choice(('', '一期', '二期'))}",
        f"{d}体育中心{rng.choice(('体育馆', '游泳馆', '综合训练馆'))}",
        f"{road}路{rng.choice(('跨河大桥', '立交桥', '隧道', '雨污水管网'))}工程",
        f"{d}{rng.choice(('文化中心', '图书馆', '档案馆', '市民服务中心', '养老服务中心'))}建设项目",
        f"{est}{rng.choice(('商住楼', '酒店', '写字楼'))}{bldg}",
    ))


def make_world(rng: random.Random, *, year_range: tuple[int, int] = (2012, 2024)) -> World:
    """Draw one project world; all randomness comes from ``rng``."""
    city, short, prov, districts = rng.choice(CITIES)
    district = rng.choice(districts)
    project = project_name(rng, district)
    road = rng.choice(_ROADS)
    address = rng.choice((
        f"{city}市{district}{road}路{rng.randint(1, 999)}号",
        f"{city}市{district}{road}路与{rng.choice(_ROADS)}路交叉口{rng.choice('东西南北')}侧",
        f"{district}{road}大道{rng.choice('东西南北')}侧、{rng.choice(_ROADS)}路以{rng.choice('东西南北')}",
        f"{city}市{district}{rng.choice(_ROADS)}街道{rng.choice(_BRANDS)}村",
    ))
    units = {role: _company(rng, city, role) for role in ROLES}
    people = People({
        r: person(rng)
        for r in ("项目经理", "项目技术负责人", "质量员", "施工员", "资料员", "总监理工程师", "专业监理工程师",
                  "建设单位项目负责人", "设计负责人", "勘察负责人", "检测员", "审核", "批准", "记录人", "测量员",
                  "施工班组长", "安全员", "主持人")
    })
    start = dt.date(year_range[0], 1, 1).toordinal()
    end = dt.date(year_range[1], 12, 28).toordinal()
    date = dt.date.fromordinal(rng.randint(start, end))
    gov_prefix = f"{city}市" if rng.random() < 0.6 else f"{city}市{district}"
    return World(city, short, prov, district, project, address, units, people, date, gov_prefix)


def cn_number(n: int) -> str:
    """Digit-by-digit Chinese year (二〇一九)."""
    return "".join(_CN_DIGITS[int(c)] for c in str(n))


def cn_count(n: int) -> str:
    """Chinese numeral for 1–31 as written in dates (十二, 二十一)."""
    if n < 10:
        return "一二三四五六七八九"[n - 1]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else "一二三"[tens - 1]
    return f"{head}十{'' if ones == 0 else '一二三四五六七八九'[ones - 1]}"


def format_date(d: dt.date, rng: random.Random, style: str | None = None) -> str:
    """A date in one of the formats archives use; ``style`` pins one (``iso``, ``cn``, ``dot``...)."""
    style = style or rng.choice(("cn", "cn", "cn", "dot", "slash", "iso", "upper", "cn_pad", "dot_short"))
    if style == "cn":
        return f"{d.year}年{d.month}月{d.day}日"
    if style == "cn_pad":
        return f"{d.year}年{d.month:02d}月{d.day:02d}日"
    if style == "dot":
        return f"{d.year}.{d.month:02d}.{d.day:02d}"
    if style == "dot_short":
        return f"{d.year}.{d.month}.{d.day}"
    if style == "slash":
        return f"{d.year}/{d.month}/{d.day}"
    if style == "upper":
        return f"{cn_number(d.year)}年{cn_count(d.month)}月{cn_count(d.day)}日"
    return d.isoformat()


def shift(d: dt.date, rng: random.Random, lo: int, hi: int) -> dt.date:
    return d + dt.timedelta(days=rng.randint(lo, hi))


# --- document numbers -----------------------------------------------------------------------------

_GOV_ABBR = {
    "发展和改革委员会": ("发改", "发改投资", "发改审批"),
    "自然资源和规划局": ("规划资源", "自然资规", "资规"),
    "规划和自然资源局": ("规划资源建", "规自", "规划资源"),
    "住房和城乡建设局": ("建", "住建", "建管"),
    "住房和城乡建设委员会": ("建委", "住建委", "建审"),
    "生态环境局": ("环审", "环建", "环评"),
    "消防救援支队": ("消审", "消验字", "建消"),
    "人民防空办公室": ("人防审", "防办", "人防"),
    "城市建设档案馆": ("档验", "城档", "建档"),
    "气象局": ("雷审", "防雷验", "气发"),
    "建设工程质量安全监督站": ("质监", "监督", "质安"),
    "行政审批局": ("审批", "行审", "审批建"),
}


def gov_bodies() -> tuple[str, ...]:
    return tuple(_GOV_ABBR)


def gov_number(rng: random.Random, w: World, body: str) -> str:
    """A 文号 such as 沪规划资源建〔2019〕123号."""
    abbr = rng.choice(_GOV_ABBR.get(body, ("建",)))
    prefix = w.city_short if rng.random() < 0.7 else w.province_short
    bracket = rng.choice(("〔〕", "〔〕", "[]", "（）", "【】"))
    func = rng.choice(("", "", "", "函", "复", "字"))
    return f"{prefix}{abbr}{func}{bracket[0]}{w.date.year}{bracket[1]}{rng.randint(1, 420)}号"


def permit_number(rng: random.Random, w: World, kind: str) -> str:
    """Permit numbers: 地字第…号, 建字第…号, 18-digit 施工许可证 numbers, 用地批准书 numbers."""
    region = f"{rng.randint(110000, 659000):06d}"
    y = w.date.year
    serial = f"{rng.randint(1, 9999):04d}"
    if kind == "land_use":
        return rng.choice((f"地字第{region}{y}{serial}号", f"{region}{y}{serial}", f"地字第{y}-{serial}号"))
    if kind == "works":
        return rng.choice((f"建字第{region}{y}{serial}号", f"{region}{y}{serial}", f"{w.city_short}规建许字〔{y}〕{serial}号"))
    if kind == "construction":
        return rng.choice((f"{region}{y}{w.date.month:02d}{w.date.day:02d}{rng.randint(1, 99):02d}01",
                           f"{region}{y}{serial}0101", f"{w.city_short}建施{y}-{serial}"))
    if kind == "land":
        return rng.choice((f"{w.city_short}（{y}）{rng.choice(('国', '集'))}有建设用地批准书第{serial}号",
                           f"{region}{y}{serial}", f"{w.city_short}国用（{y}）第{serial}号"))
    if kind == "cert":
        return rng.choice((f"D{rng.randint(100000000, 999999999)}", f"{w.province_short}建安A（{y}）{serial}",
                           f"{w.province_short}{rng.randint(1, 99):02d}{y}{serial}{rng.randint(100, 999)}"))
    return f"{y}-{serial}"


def form_number(rng: random.Random, w: World) -> str:
    """Form serials as printed in the 编号 box; deliberately uncorrelated with the catalogue code."""
    y = w.date.year
    n = rng.randint(1, 480)
    letter = rng.choice("ABCDE")
    return rng.choice((
        f"{rng.randint(1, 10):02d}-{rng.randint(1, 9):02d}-{letter}{rng.randint(1, 9)}-{n:03d}",
        f"{rng.choice(('SG', 'JL', 'JS', 'ZL', 'GC'))}-{y}-{n:03d}",
        f"{n:03d}",
        f"{y}-{n:04d}",
        f"{rng.choice(('TJ', 'AZ', 'DQ', 'GPS', 'NT', 'ZN'))}-{n:03d}",
        f"第{n:03d}号",
    ))


def letter_number(rng: random.Random, w: World, prefix: str) -> str:
    y = w.date.year
    n = rng.randint(1, 120)
    return rng.choice((
        f"{prefix}-{y}-{n:03d}",
        f"{prefix}〔{y}〕第{n:02d}号",
        f"{prefix}{y}{n:03d}",
        f"{y}-{prefix}-{n:02d}",
    ))


def report_number(rng: random.Random, w: World) -> str:
    y = w.date.year
    n = rng.randint(1, 9999)
    return rng.choice((
        f"JC-{y}-{rng.choice(('GJ', 'HNT', 'SN', 'FS', 'JN', 'DQ', 'GT'))}-{n:04d}",
        f"（{y}）建检字第{n:04d}号",
        f"WT{y}-{rng.randint(10000, 99999)}",
        f"{w.city_short}检{y}{n:05d}",
        f"BG{y}{w.date.month:02d}{n:04d}",
        f"GT-{y}-{n:04d}",
    ))


def drawing_number(rng: random.Random, discipline_prefix: str) -> str:
    return rng.choice((f"{discipline_prefix}-{rng.randint(1, 60):02d}", f"{discipline_prefix}{rng.randint(1, 60)}",
                       f"JG-{discipline_prefix}-{rng.randint(1, 60):03d}"))
