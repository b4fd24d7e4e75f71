"""Template families: distinct layouts and wordings a document of an item can take.

TRAIN families feed train/calib; HELDOUT families are layouts and wordings the model never sees in
training (a terse system export, a narrative letter that names the item only indirectly, an excerpt
starting mid-document, another region's form wording, an OA approval printout), so the test split
measures generalisation to archives written by other people.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from models.catalogue import Item

from samplegen.context import Ctx, Draft
from samplegen.doc import Block
from samplegen.lexicon import DRAWING_PREFIX, GENERIC_PARTS
from samplegen.profile import ItemProfile
from samplegen.world import drawing_number, form_number, gov_bodies, gov_number, letter_number, permit_number, report_number

Writer = Callable[[Ctx], Draft]


@dataclass(frozen=True)
class Family:
    name: str
    heldout: bool
    write: Writer


def _sign_line(ctx: Ctx, role: str, titles: tuple[str, ...]) -> Block:
    cells = [f"{role}（章）" if ctx.rng.random() < 0.5 else role]
    for t in titles:
        cells.append(f"{t}：{ctx.person(t) if ctx.rng.random() < 0.85 else ''}")
    cells.append(f"{ctx.rng.choice(('日期', '日 期', '时间'))}：{ctx.date()}")
    return Block("sign", tuple(cells))


def _title_of(ctx: Ctx) -> str:
    return ctx.title()


# --- TRAIN families ------------------------------------------------------------------------------

def form(ctx: Ctx) -> Draft:
    """GB/T 50300-style record form: header rows, field table, opinion cell, signature grid."""
    rng = ctx.rng
    title = _title_of(ctx)
    number = form_number(rng, ctx.w)
    blocks: list[Block] = [Block("title", (title,))]
    if rng.random() < 0.6:
        blocks.append(Block("meta", (f"{rng.choice(('编号', '资料编号', '表号'))}：{number}",)))
        head = [Block("row", (ctx.spaced("工程名称"), ctx.w.project))]
    else:
        head = [Block("row", (ctx.spaced("工程名称"), ctx.w.project, "编号", number))]
    if rng.random() < 0.6:
        head.append(Block("row", ("施工单位", ctx.unit("施工单位"), "日期", ctx.date())))
    fields = [f for f in ctx.p.fields if not re.search(r"工程名称|编号", f)]
    blocks += head + ctx.field_rows(fields[: rng.randint(3, 8)])
    label = rng.choice(("检查意见", "检查内容", "验收意见", "说明", "记录内容", "情况描述"))
    body = ctx.body(rng.randint(2, 5))
    blocks.append(Block("row", (f"{label}：", "".join(body) if rng.random() < 0.5 else body[0])))
    for sentence in body[1:] if len(body) > 1 and rng.random() < 0.5 else []:
        blocks.append(Block("para", (sentence,)))
    blocks.append(Block("row", (rng.choice(("结论", "复查结论", "检查结论")),
                                rng.choice(("□同意 □不同意", "☑合格 □不合格", "同意，可进行下道工序", "合格")))))
    blocks.append(_sign_line(ctx, "施工单位", rng.choice((("项目技术负责人", "质量员"), ("施工员", "质量员"), ("项目经理",)))))
    if rng.random() < 0.8:
        blocks.append(_sign_line(ctx, rng.choice(("监理单位", "监理（建设）单位")), ("专业监理工程师",)))
    return Draft(blocks, title, number, ctx.w.date, "form")


def letter(ctx: Ctx) -> Draft:
    """Notice / contact sheet / change order: 致：…, 事由, 内容, signature of the sending party."""
    rng = ctx.rng
    title = _title_of(ctx)
    sender = ctx.issuer_role()
    receiver = rng.choice([r for r in ("施工单位", "建设单位", "监理单位", "设计单位") if r != sender])
    number = letter_number(rng, ctx.w, rng.choice(("JL", "LXD", "TZ", "BG", "QS", "HD", "SG")))
    blocks = [Block("title", (title,)), Block("meta", (f"编号：{number}",)),
              Block("row", ("工程名称", ctx.w.project)),
              Block("para", (f"致：{ctx.unit(receiver)}{rng.choice(('', '（项目部）', '项目经理部'))}",))]
    subject = rng.choice((f"关于{rng.choice(GENERIC_PARTS)}{ctx.keyword()}的事宜", f"{ctx.keyword()}问题",
                          f"{ctx.w.project}{ctx.keyword()}"))
    blocks.append(Block("para", (f"事由：{subject}",)))
    opener = rng.choice(("内容：", "现将有关事项通知如下：", "具体内容如下：", ""))
    body = ctx.body(rng.randint(3, 6))
    if opener:
        blocks.append(Block("para", (opener,)))
    numbering = rng.choice(("{i}、", "{i}.", "（{i}）", ""))
    for i, s in enumerate(body, 1):
        blocks.append(Block("para", (numbering.format(i=i) + s,)))
    if rng.random() < 0.4:
        blocks.append(Block("para", (f"附件：{rng.choice(('相关图纸', '现场照片', '计算书', '整改回复单'))}{rng.randint(1, 5)}份",)))
    blocks.append(Block("sign", (f"{ctx.unit(sender)}（章）",)))
    blocks.append(Block("sign", (f"{rng.choice(('总监理工程师', '项目经理', '负责人', '专业监理工程师'))}：{ctx.person()}",
                                 f"日期：{ctx.date()}")))
    if rng.random() < 0.5:
        blocks.append(Block("row", ("签收人", ctx.person(), "签收日期", ctx.other_date(0, 3))))
    return Draft(blocks, title, number, ctx.w.date, "letter")


def _stem(title: str) -> str:
    s = re.sub(r"(批复文件及.*|的批复|批复|审查意见书?|意见书?|通知书|文件|证明)$", "", title)
    return s or title


def redhead(ctx: Ctx) -> Draft:
    """Government 红头 approval: body header, 文号, 关于…的批复, 经研究…, numbered points, 此复."""
    rng = ctx.rng
    body = rng.choice(ctx.p.authority) if ctx.p.authority else rng.choice(gov_bodies()[:8])
    gov = body if body.startswith(ctx.w.gov_prefix) or "市" in body[:4] else ctx.w.gov(body)
    number = gov_number(rng, ctx.w, body)
    std = _title_of(ctx)
    kind = rng.choice(("批复", "审查意见", "复函", "意见", "通知"))
    doc_title = f"关于{ctx.w.project}{_stem(std)}的{kind}" if rng.random() < 0.7 else std
    blocks = [Block("redhead", (f"{gov}{rng.choice(('文件', '', ''))}",)), Block("subtitle", (number,)),
              Block("title", (doc_title,)), Block("para", (f"{ctx.unit('建设单位')}：",))]
    req = f"（{ctx.w.city_short}{rng.choice(('建', '发', '投'))}〔{ctx.w.date.year}〕{rng.randint(1, 90)}号）"
    blocks.append(Block("para", (rng.choice((
        f"你单位《关于{ctx.w.project}{_stem(std)}的请示》{req}收悉。经研究，现批复如下：",
        f"你单位报送的{ctx.w.project}有关材料收悉。经审查，现提出如下意见：",
        f"根据你单位申请及相关材料，经研究，现就{ctx.w.project}有关事项函复如下：")),)))
    nums = "一二三四五六七八"
    for i, s in enumerate(ctx.body(rng.randint(3, 6))):
        blocks.append(Block("para", (f"{nums[i]}、{s}",)))
    blocks.append(Block("para", (rng.choice(("此复。", "特此批复。", "特此函复。", "")),)))
    blocks.append(Block("sign", (gov,)))
    blocks.append(Block("sign", (ctx.date(),)))
    if rng.random() < 0.6:
        blocks.append(Block("footer", (f"抄送：{ctx.w.gov(rng.choice(gov_bodies()))}，{ctx.w.gov(rng.choice(gov_bodies()))}。",)))
    if rng.random() < 0.5:
        blocks.append(Block("footer", (f"{gov}办公室", f"{ctx.date()}印发")))
    title = std if std in doc_title else ""
    return Draft(blocks, title or doc_title, number, ctx.w.date, "redhead")


def permit(ctx: Ctx) -> Draft:
    """Permit / certificate: national header, 编号, legal sentence, field rows, issuing body and date."""
    rng = ctx.rng
    title = _title_of(ctx)
    kind = "land_use" if "用地规划" in title else "works" if "工程规划" in title else \
        "construction" if "施工许可" in title else "land" if "用地" in title else "cert"
    number = permit_number(rng, ctx.w, kind)
    blocks = [Block("letterhead", ("中华人民共和国",)) if rng.random() < 0.6 else Block("letterhead", ("",)),
              Block("title", (title,)), Block("meta", (f"{rng.choice(('编号', '证号', 'NO.', '编 号'))}：{number}",))]
    body = ctx.body(rng.randint(2, 4))
    blocks.append(Block("para", (body[0],)))
    fields = [f for f in ctx.p.fields if "编号" not in f][:rng.randint(4, 8)]
    blocks += ctx.field_rows(fields, pairs=False)
    for s in body[1:]:
        blocks.append(Block("para", (s,)))
    issuer = rng.choice(ctx.p.authority) if ctx.p.authority else None
    if issuer:
        org = issuer if "市" in issuer[:4] else ctx.w.gov(issuer)
    else:
        org = ctx.unit(ctx.issuer_role()) if ctx.item.class_code.startswith(("C", "E1")) else ctx.w.gov(rng.choice(gov_bodies()[:4]))
    blocks.append(Block("sign", (f"{rng.choice(('发证机关', '发证单位', '签发单位', ''))}{'：' if rng.random() < 0.7 else ''}{org}",)))
    blocks.append(Block("sign", (f"{rng.choice(('日期', '发证日期', ''))}{'：' if rng.random() < 0.5 else ''}{ctx.date()}",)))
    if rng.random() < 0.5:
        blocks.append(Block("footer", ("遵守事项：", "一、本证是经依法审查合法的凭证。", "二、未经发证机关许可，本证内容不得变更。")))
    return Draft(blocks, title, number, ctx.w.date, "permit")


_STANDARDS = ("GB/T 1499.2-2018", "GB/T 228.1-2021", "GB 175-2023", "GB/T 14684-2022", "GB/T 50081-2019",
              "JGJ 18-2012", "JGJ 107-2016", "GB 50204-2015", "GB/T 17671-2021", "GB 18580-2017", "JGJ/T 23-2011",
              "GB 50325-2020", "GB/T 7106-2019", "GB 50411-2019", "JGJ 106-2014", "GB 50202-2018")


def test_report(ctx: Ctx) -> Draft:
    """Lab test report: lab header, 报告编号, sample rows, 检测依据, result table, 结论, three signatures."""
    rng = ctx.rng
    title = _title_of(ctx)
    number = report_number(rng, ctx.w)
    lab = ctx.unit("检测机构")
    blocks = [Block("letterhead", (lab,)), Block("title", (title,)),
              Block("meta", (f"{rng.choice(('报告编号', '报告编号', '编号', '委托编号'))}：{number}",))]
    if rng.random() < 0.4:
        blocks.append(Block("meta", (f"第1页 共{rng.randint(1, 3)}页",)))
    blocks.append(Block("row", ("委托单位", ctx.unit(rng.choice(("施工单位", "建设单位"))), "工程名称", ctx.w.project)))
    fields = [f for f in ctx.p.fields if not re.search(r"工程名称|委托单位|编号", f)][:rng.randint(3, 6)]
    blocks += ctx.field_rows(fields, pairs=True)
    blocks.append(Block("row", ("检测依据", "、".join(rng.sample(_STANDARDS, rng.randint(1, 3))))))
    blocks.append(Block("row", ("检测日期", ctx.other_date(-10, -1), "报告日期", ctx.date())))
    blocks.append(Block("row", ("序号", "检测项目", "标准要求", "检测结果", "单项判定")))
    items = list(ctx.p.keywords) or ["强度", "外观", "尺寸偏差", "含水率"]
    rng.shuffle(items)
    for i, k in enumerate(items[: rng.randint(2, 6)], 1):
        req = rng.choice((f"≥{rng.randint(5, 500)}", f"≤{rng.randint(1, 50)}", "符合设计要求", f"{rng.randint(1, 30)}~{rng.randint(31, 90)}"))
        blocks.append(Block("row", (str(i), k, req, f"{rng.uniform(0.5, 600):.{rng.randint(0, 2)}f}", rng.choice(("合格", "符合")))))
    conc = ctx.body(rng.randint(1, 3))
    blocks.append(Block("row", ("检测结论", "".join(conc))))
    if rng.random() < 0.6:
        blocks.append(Block("row", ("见证单位", ctx.unit("监理单位"), "见证人", ctx.person())))
    blocks.append(Block("sign", (f"检测：{ctx.person('检测员')}", f"审核：{ctx.person('审核')}", f"批准：{ctx.person('批准')}")))
    blocks.append(Block("footer", (rng.choice(("本报告未加盖检测专用章无效。", "报告涂改无效，复制报告未重新加盖专用章无效。",
                                               "对本报告若有异议，应于收到报告之日起十五日内提出。")),)))
    if rng.random() < 0.5:
        blocks.append(Block("footer", (f"地址：{ctx.w.address}", f"电话：0{rng.randint(10, 999)}-{rng.randint(2000000, 89999999)}")))
    return Draft(blocks, title, number, ctx.w.date, "report")


def minutes(ctx: Ctx) -> Draft:
    """Meeting minutes: 时间/地点/主持/参加人员, numbered discussion points, decisions."""
    rng = ctx.rng
    title = _title_of(ctx)
    n = rng.randint(1, 40)
    number = f"第{n}期" if rng.random() < 0.5 else letter_number(rng, ctx.w, "HY")
    blocks = [Block("title", (f"{ctx.w.project}{title}" if rng.random() < 0.5 else title,)),
              Block("meta", (number,))]
    blocks += [Block("row", ("会议时间", f"{ctx.date()} {rng.randint(8, 16)}:{rng.choice(('00', '30'))}")),
               Block("row", ("会议地点", rng.choice(("项目部会议室", "建设单位三楼会议室", "现场监理办公室", f"{ctx.w.gov('住房和城乡建设局')}会议室")))),
               Block("row", ("主持人", ctx.person("主持人"), "记录人", ctx.person("记录人"))),
               Block("row", ("参加单位及人员", "；".join(f"{ctx.unit(r)}：{ctx.person()}、{ctx.person()}"
                                                 for r in rng.sample(("建设单位", "施工单位", "监理单位", "设计单位"), rng.randint(2, 4)))))]
    blocks.append(Block("para", (rng.choice(("会议内容：", "会议纪要如下：", "一、会议议定事项", "现将会议主要内容纪要如下：")),)))
    numbering = rng.choice(("{i}．", "（{i}）", "{i}、", ""))
    for i, s in enumerate(ctx.body(rng.randint(3, 7)), 1):
        blocks.append(Block("para", (numbering.format(i=i) + s,)))
    blocks.append(Block("sign", (f"{rng.choice(('纪要整理', '整理', '记录'))}：{ctx.person('记录人')}", f"签发：{ctx.person('总监理工程师')}")))
    return Draft(blocks, title, number, ctx.w.date, "minutes")


_CHAPTERS = {
    "勘察": ("工程概况", "勘察目的、任务和依据", "场地工程地质条件", "地下水", "岩土工程参数", "场地地震效应",
             "地基基础方案分析", "结论与建议"),
    "施工": ("编制依据", "工程概况", "施工部署", "施工进度计划", "施工准备与资源配置计划", "主要施工方法",
             "质量保证措施", "安全文明施工措施"),
    "监理": ("工程概况", "监理工作范围和内容", "监理工作目标", "监理工作依据", "监理组织形式和人员配备",
             "监理工作制度", "工程质量控制", "安全生产管理的监理工作"),
    "设计": ("设计依据", "工程概况", "总平面设计", "建筑设计", "结构设计", "给排水设计", "电气设计", "节能设计"),
    "报告": ("工程概况", "工作依据", "工作过程", "质量情况", "存在问题及处理", "结论"),
    "造价": ("编制说明", "工程概况", "编制依据", "费用汇总", "主要材料价格", "其他说明"),
}


def _report_filler(ctx: Ctx) -> str:
    rng, w = ctx.rng, ctx.w
    return rng.choice((
        f"本工程地上{rng.randint(2, 33)}层，地下{rng.randint(0, 3)}层，建筑高度{rng.uniform(9, 99):.1f}m，总建筑面积{ctx.value('建筑面积')}。",
        f"工程地点位于{w.address}，交通便利，场地“三通一平”已完成。",
        f"计划开工日期{ctx.other_date(-120, -60)}，计划竣工日期{ctx.other_date(200, 600)}，总工期{rng.randint(180, 900)}日历天。",
        f"建设单位：{ctx.unit('建设单位')}；设计单位：{ctx.unit('设计单位')}；监理单位：{ctx.unit('监理单位')}。",
        f"工程结构形式为{ctx.value('结构类型')}，基础形式为{rng.choice(('筏板基础', '独立基础', '桩基础', '条形基础'))}，"
        f"设计使用年限{rng.choice((50, 50, 100))}年。",
        f"{rng.choice(GENERIC_PARTS)}部位为本工程的重点和难点，应{rng.choice(('编制专项方案', '加强过程检查', '组织专题论证'))}。",
        f"相关人员：项目负责人{ctx.person('项目经理')}，技术负责人{ctx.person('项目技术负责人')}。",
        f"本章所述内容应结合{ctx.keyword()}的有关要求执行，未尽事宜按国家现行规范和标准执行。",
    ))


def chapters(ctx: Ctx) -> Draft:
    """Long report with cover, 目录 and numbered chapters (勘察报告, 施工组织设计, 监理规划, ...)."""
    rng = ctx.rng
    title = _title_of(ctx)
    key = next((k for k, ws in (("勘察", ("勘察", "地质")), ("施工", ("施工组织", "方案", "计划")),
                                ("监理", ("监理",)), ("设计", ("设计", "说明书", "计算")),
                                ("造价", ("估算", "概算", "结算", "决算", "价格", "控制价")))
                if any(w in title for w in ws)), "报告")
    heads = list(_CHAPTERS[key])
    author_role = ctx.issuer_role()
    number = letter_number(rng, ctx.w, rng.choice(("KC", "SZ", "JL", "SJ", "BG", "ZJ")))
    blocks = [Block("title", (ctx.w.project,)), Block("title", (title,))]
    if rng.random() < 0.6:
        blocks.append(Block("meta", (f"{rng.choice(('项目编号', '工程编号', '编号', '文件编号'))}：{number}",)))
    else:
        number = ""
    blocks += [Block("para", (f"编制单位：{ctx.unit(author_role)}",)),
               Block("para", (f"编制：{ctx.person()}  审核：{ctx.person('审核')}  批准：{ctx.person('批准')}",)),
               Block("para", (ctx.date(),))]
    if rng.random() < 0.5:
        blocks.append(Block("heading", ("目  录",)))
        for i, h in enumerate(heads, 1):
            blocks.append(Block("para", (f"{i} {h}{'.' * rng.randint(4, 12)}{i + 1}",)))
    sentences = ctx.body(len(heads) + 3)
    arabic = rng.random() < 0.6
    for i, h in enumerate(heads, 1):
        blocks.append(Block("heading", (f"{i} {h}" if arabic else f"第{'一二三四五六七八九十'[i - 1]}章 {h}",)))
        if h == "工程概况":
            blocks.append(Block("para", (f"{i}.1 {ctx.w.project}位于{ctx.w.address}，建设单位为{ctx.unit('建设单位')}，"
                                         f"设计单位为{ctx.unit('设计单位')}，总建筑面积{ctx.value('建筑面积')}，{ctx.value('结构类型')}。",)))
        if sentences:
            blocks.append(Block("para", (f"{i}.{rng.randint(1, 3)} {sentences.pop(0)}",)))
        if rng.random() < 0.4 and sentences:
            blocks.append(Block("para", (sentences.pop(0),)))
        for _ in range(rng.randint(1, 3)):  # reports run to several pages: project-specific filler
            blocks.append(Block("para", (_report_filler(ctx),)))
    return Draft(blocks, title, number, ctx.w.date, "chapters")


def drawing(ctx: Ctx) -> Draft:
    """As-built drawing (竣工图): notes, axis and dimension text, title block and 竣工图章."""
    rng = ctx.rng
    title = _title_of(ctx)
    disc = ctx.p.discipline
    prefix = DRAWING_PREFIX.get(disc, rng.choice(("建施", "结施", "总施")))
    number = drawing_number(rng, prefix)
    sheet = rng.choice(("一层平面图", "屋面平面图", "基础平面布置图", "标准层平面图", "剖面图", "系统图", "总平面图",
                        "节点详图", "立面图", "管线综合平面图"))
    blocks = [Block("para", (f"{rng.choice(('说明', '设计说明', '施工说明'))}：",))]
    for i, s in enumerate(ctx.body(rng.randint(2, 4)), 1):
        blocks.append(Block("para", (f"{i}. {s}",)))
    blocks.append(Block("para", (" ".join(rng.sample(("±0.000", "3600", "7200", "①", "②", "Ⓐ", "Ⓑ", "-0.450", "1:100",
                                                      "DN150", "i=0.3%", "C30", "Φ12@200", "LL-1", "KL2(3)"), 6)),)))
    blocks.append(Block("stamp_note", ("竣工图", f"施工单位：{ctx.unit('施工单位')}", f"编制人：{ctx.person()}",
                                       f"审核人：{ctx.person()}", f"编制日期：{ctx.date()}",
                                       f"监理单位：{ctx.unit('监理单位')}", f"总监：{ctx.person('总监理工程师')}")))
    tb = [f"{ctx.unit('设计单位')}", f"工程名称：{ctx.w.project}", f"图名：{sheet}", f"图号：{number}",
          f"比例：1:{rng.choice((50, 100, 150, 200, 500))}", f"专业：{disc}", f"日期：{ctx.date()}",
          f"设计：{ctx.person()}", f"校对：{ctx.person()}", f"审核：{ctx.person()}"]
    if rng.random() < 0.8:
        tb.insert(1, title)
        shown = title
    else:
        shown = ""
    blocks.append(Block("titleblock", tuple(tb)))
    return Draft(blocks, shown, number, ctx.w.date, "drawing")


def acceptance(ctx: Ctx) -> Draft:
    """Acceptance record: checked items with results, 验收意见, 验收结论, signatures of all parties."""
    rng = ctx.rng
    title = _title_of(ctx)
    number = form_number(rng, ctx.w)
    blocks = [Block("title", (title,)), Block("row", ("工程名称", ctx.w.project, "编号", number)),
              Block("row", ("施工单位", ctx.unit("施工单位"), "项目负责人", ctx.person("项目经理")))]
    fields = [f for f in ctx.p.fields if not re.search(r"工程名称|施工单位|编号", f)][:rng.randint(2, 6)]
    blocks += ctx.field_rows(fields)
    blocks.append(Block("row", ("序号", rng.choice(("验收项目", "检查项目", "核查内容")), rng.choice(("验收情况", "检查结果", "评定")))))
    things = list(ctx.p.keywords) or list(ctx.p.fields)
    rng.shuffle(things)
    for i, t in enumerate(things[: rng.randint(2, 6)], 1):
        blocks.append(Block("row", (str(i), t, rng.choice(("符合要求", "合格", "完整", "好", "一般", "共核查12项，符合要求")))))
    blocks.append(Block("row", (rng.choice(("验收意见", "验收意见", "综合验收结论", "检查意见")), "".join(ctx.body(rng.randint(2, 4))))))
    blocks.append(Block("row", ("验收结论", rng.choice(("合格", "同意验收", "☑合格 □不合格", "符合要求，同意验收")))))
    for role, who in rng.sample((("建设单位", "项目负责人"), ("监理单位", "总监理工程师"), ("施工单位", "项目经理"),
                                 ("设计单位", "项目负责人"), ("勘察单位", "项目负责人")), rng.randint(2, 5)):
        blocks.append(Block("sign", (f"{ctx.unit(role)}（公章）" if rng.random() < 0.5 else role, f"{who}：{ctx.person()}",
                                     ctx.date())))
    return Draft(blocks, title, number, ctx.w.date, "form")


def _log_columns(title: str) -> tuple[str, ...]:
    for words, cols in ((("测温",), ("测温时间", "大气温度℃", "测点1", "测点2", "测点3", "内外温差℃")),
                        (("沉降", "观测", "垂直度"), ("观测点", "初始高程m", "本次高程m", "本次沉降mm", "累计沉降mm")),
                        (("位移", "监测"), ("监测点", "本次位移mm", "累计位移mm", "变化速率mm/d", "预警值mm")),
                        (("日志",), ("日期", "天气", "气温", "施工部位", "施工内容", "记录人")),
                        (("名册",), ("序号", "姓名", "职务", "证书编号", "联系电话")),
                        (("钎探",), ("探点号", "0~30cm", "30~60cm", "60~90cm", "90~120cm", "备注")),
                        (("汇总",), ("序号", "试验项目", "应送检组数", "实际送检组数", "合格组数")),
                        (("动态", "人、机、料"), ("工种/机械", "计划", "本周", "下周", "备注")),
                        (("进度计划",), ("序号", "分项工程", "开始时间", "完成时间", "工期(天)")),
                        (("目录", "录像", "录音"), ("序号", "名称", "编号", "时长/页数", "备注"))):
        if any(w in title for w in words):
            return cols
    return ("序号", "检查项目", "部位", "实测值", "结果")


def log(ctx: Ctx) -> Draft:
    """Table-heavy log: header rows then many numeric rows (测温, 沉降, 日志, 名册, 钎探...)."""
    rng = ctx.rng
    title = _title_of(ctx)
    number = form_number(rng, ctx.w)
    cols = _log_columns(title + ctx.p.standard_title)
    blocks = [Block("title", (title,)), Block("row", ("工程名称", ctx.w.project, "编号", number))]
    if rng.random() < 0.6:
        f = [x for x in ctx.p.fields if not re.search(r"工程名称|编号", x)][:2]
        blocks += ctx.field_rows(f, pairs=True)
    blocks.append(Block("row", cols))
    d = ctx.w.date
    for r in range(rng.randint(5, 16)):
        cells = []
        for c in cols:
            if "日期" in c or "时间" in c:
                cells.append(f"{(d.month)}-{min(28, d.day + r // 2):02d} {rng.choice(('08', '14', '20', '02'))}:00")
            elif c in ("序号",):
                cells.append(str(r + 1))
            elif "点" in c and "测点" not in c:
                cells.append(f"{rng.choice(('J', 'C', 'S', 'BM', 'T'))}{r + 1}")
            elif c in ("姓名",):
                cells.append(ctx.person())
            elif c in ("天气",):
                cells.append(rng.choice(("晴", "多云", "阴", "小雨", "晴转多云")))
            elif "部位" in c or "内容" in c or "项目" in c or "名称" in c or "工种" in c or "职务" in c:
                cells.append(rng.choice((*ctx.p.keywords, *GENERIC_PARTS[:5])) if ctx.p.keywords or rng.random() < 0.5 else rng.choice(GENERIC_PARTS))
            elif "记录" in c:
                cells.append(ctx.person("记录人"))
            else:
                cells.append(f"{rng.uniform(0.1, 60):.{rng.randint(0, 2)}f}")
        blocks.append(Block("row", tuple(cells)))
    for s in ctx.body(rng.randint(1, 3)):
        blocks.append(Block("para", (s,)))
    blocks.append(Block("sign", (f"{rng.choice(('记录人', '观测人', '测量人', '填表人'))}：{ctx.person('记录人')}",
                                 f"{rng.choice(('技术负责人', '审核', '复核'))}：{ctx.person('项目技术负责人')}", f"{ctx.date()}")))
    return Draft(blocks, title, number, ctx.w.date, "log")


def contract(ctx: Ctx) -> Draft:
    """Contract: parties (发包人/承包人), 合同编号, numbered articles, signatures of both parties."""
    rng = ctx.rng
    title = _title_of(ctx)
    number = letter_number(rng, ctx.w, rng.choice(("HT", "SGHT", "JLHT", "KCSJ")))
    a_role = "建设单位"
    b_role = rng.choice(("施工单位", "监理单位", "设计单位", "勘察单位")) if ctx.issuer_role() == "建设单位" else ctx.issuer_role()
    blocks = [Block("title", (title,)), Block("meta", (f"合同编号：{number}",)),
              Block("para", (f"{rng.choice(('发包人', '甲方', '委托人', '招标人'))}：{ctx.unit(a_role)}",)),
              Block("para", (f"{rng.choice(('承包人', '乙方', '受托人', '中标人'))}：{ctx.unit(b_role)}",))]
    blocks.append(Block("para", ("根据《中华人民共和国民法典》及有关法律规定，遵循平等、自愿、公平和诚实信用的原则，双方就下列事项协商一致，订立本合同。",)))
    arts = ("工程概况", "工作内容", "合同工期", "质量标准", "合同价款", "双方的权利和义务", "违约责任", "争议解决")
    body = ctx.body(rng.randint(3, 6))
    for i, a in enumerate(arts[: rng.randint(4, 8)]):
        blocks.append(Block("heading", (f"第{'一二三四五六七八'[i]}条 {a}",)))
        if a == "工程概况":
            blocks.append(Block("para", (f"工程名称：{ctx.w.project}；工程地点：{ctx.w.address}。",)))
        elif body:
            blocks.append(Block("para", (body.pop(0),)))
    blocks.append(Block("sign", (f"甲方（盖章）：{ctx.unit(a_role)}", f"法定代表人：{ctx.person()}")))
    blocks.append(Block("sign", (f"乙方（盖章）：{ctx.unit(b_role)}", f"法定代表人：{ctx.person()}", f"签订日期：{ctx.date()}")))
    return Draft(blocks, title, number, ctx.w.date, "letter")


def photo_sheet(ctx: Ctx) -> Draft:
    """Photo / audio-visual archive sheet: per-photo caption rows (照片号, 拍摄时间, 拍摄者, 说明)."""
    rng = ctx.rng
    title = _title_of(ctx)
    number = f"{rng.choice(('ZP', 'SX', 'LX'))}-{rng.randint(1, 300):03d}"
    blocks = [Block("title", (title,)), Block("row", ("工程名称", ctx.w.project, "档号", number))]
    body = ctx.body(rng.randint(2, 4))
    for i in range(rng.randint(2, 4)):
        blocks += [Block("row", ("照片号", f"{i + 1}", "底片号", f"D{rng.randint(1000, 9999)}")),
                   Block("row", ("拍摄时间", ctx.other_date(-200, 0), "拍摄者", ctx.person())),
                   Block("row", ("拍摄地点", rng.choice(GENERIC_PARTS), "参见号", "/")),
                   Block("row", ("文字说明", body[i % len(body)] if body else ctx.keyword()))]
    return Draft(blocks, title, number, ctx.w.date, "form")


# --- HELD-OUT families ---------------------------------------------------------------------------

def fielddump(ctx: Ctx) -> Draft:
    """Terse export from a records system: key=value pairs packed several to a line."""
    rng = ctx.rng
    title = ctx.p.standard_title if rng.random() < 0.6 else ""
    number = form_number(rng, ctx.w)
    sep = rng.choice(("｜", " | ", "；", "  ", ", "))
    kv = rng.choice(("：", "=", ":"))
    pairs = [("项目", ctx.w.project), ("单号", number), ("填报", ctx.date())]
    if title:
        pairs.insert(0, (rng.choice(("表单", "资料名称", "类型", "模板")), title))
    for f in ctx.p.fields[:rng.randint(3, 9)]:
        pairs.append((re.sub(r"(名称|单位)$", "", f) or f, ctx.value(f)))
    rng.shuffle(pairs[2:])
    lines, cur = [], []
    for k, v in pairs:
        cur.append(f"{k}{kv}{v}")
        if len(cur) >= rng.randint(2, 4):
            lines.append(sep.join(cur))
            cur = []
    if cur:
        lines.append(sep.join(cur))
    blocks = [Block("meta", (rng.choice(("导出自工程资料管理系统", "[系统导出]", "数据来源：资料平台", "EXPORT")),))]
    blocks += [Block("para", (ln,)) for ln in lines]
    blocks.append(Block("para", (f"备注{kv}{''.join(ctx.body(rng.randint(1, 3)))}",)))
    blocks.append(Block("para", (f"经办{kv}{ctx.person()}{sep}审核{kv}{ctx.person()}{sep}状态{kv}{rng.choice(('已归档', '已审核', '待签'))}",)))
    return Draft(blocks, title, number, ctx.w.date, "plain")


def narrative(ctx: Ctx) -> Draft:
    """Narrative letter/report in paragraphs; the item is named indirectly or not at all."""
    rng = ctx.rng
    std = ctx.p.standard_title
    role = ctx.issuer_role()
    other = rng.choice([r for r in ("建设单位", "监理单位", "施工单位", "设计单位") if r != role])
    heading = rng.choice((f"关于{ctx.w.project}有关情况的说明", "情况说明", f"{ctx.w.project}工作情况汇报",
                          "关于有关事项的函", f"{ctx.w.project}相关事宜"))
    body = ctx.body(rng.randint(3, 6))
    kw = ctx.keyword()
    opening = rng.choice((
        f"{ctx.date()}，{ctx.unit(role)}会同{ctx.unit(other)}对{ctx.w.project}{rng.choice(GENERIC_PARTS)}的{kw}情况进行了核查，现将有关情况说明如下。",
        f"{ctx.unit(other)}：",
        f"根据工程进展情况，我方就{ctx.w.project}{kw}相关工作说明如下：",
    ))
    blocks = [Block("title", (heading,)), Block("para", (opening,))]
    if opening.endswith("："):
        blocks.append(Block("para", (f"现将{ctx.w.project}{kw}方面的情况报告如下。",)))
    title = ""
    mid = len(body) // 2
    for i, s in enumerate(body):
        text = s
        if i == mid and rng.random() < 0.35:
            text = f"{s}相关内容已形成《{std}》，随本函附送。"
            title = std
        blocks.append(Block("para", (text,)))
    blocks.append(Block("para", (rng.choice(("特此说明。", "请予审阅。", "以上情况，请知悉。", "妥否，请批示。")),)))
    blocks.append(Block("sign", (ctx.unit(role),)))
    blocks.append(Block("sign", (ctx.date(),)))
    return Draft(blocks, title, "", ctx.w.date, "letter")


def excerpt(ctx: Ctx) -> Draft:
    """A middle page: starts mid-sentence or mid-table, running header, 第2页 共3页 footer."""
    rng = ctx.rng
    std = ctx.p.standard_title
    title = std if rng.random() < 0.4 else ""
    total = rng.randint(2, 6)
    page = rng.randint(2, total)
    body = ctx.body(rng.randint(3, 6))
    blocks: list[Block] = []
    if title:
        blocks.append(Block("meta", (f"{title}{rng.choice(('（续）', '（续表）', ''))}",)))
    first = body.pop(0)
    blocks.append(Block("para", (rng.choice(("（接上页）", "续上表", "")) + first[len(first) // 3:],)))
    fields = list(ctx.p.fields)
    rng.shuffle(fields)
    for f in fields[: rng.randint(1, 4)]:
        blocks.append(Block("row", (ctx.value(f), rng.choice(("", f)))))
    for s in body:
        blocks.append(Block("para", (s,)))
    if rng.random() < 0.6:
        blocks.append(Block("sign", (f"{rng.choice(('负责人', '经办人', '专业监理工程师', '项目技术负责人'))}：{ctx.person()}", ctx.date())))
        date = ctx.w.date
    else:
        date = None
    blocks.append(Block("footer", (f"第{page}页 共{total}页" if rng.random() < 0.6 else f"- {page} -",)))
    return Draft(blocks, title, "", date, "plain")


_REGION_LABELS = {"工程名称": ("项目名称", "工程项目名称", "单位工程名称"), "施工单位": ("承建单位", "施工企业", "承包单位"),
                  "监理单位": ("监理机构", "项目监理机构"), "建设单位": ("建设方", "业主单位", "发包单位")}


def regional(ctx: Ctx) -> Draft:
    """Another province's unified form: different labels, 监制 header, upper-case dates, 签章 lines."""
    rng = ctx.rng
    ctx.date_style = "upper" if rng.random() < 0.5 else "cn_pad"
    std = ctx.p.standard_title
    title = std
    prov = rng.choice(("江苏省", "浙江省", "广东省", "四川省", "湖北省", "山东省", "福建省", "河南省"))
    number = f"{prov[:2]}{rng.choice(('建质', '建验', 'GD', 'SG'))}-{rng.randint(1, 99):02d}-{rng.randint(1, 999):03d}"
    lab = lambda k: rng.choice(_REGION_LABELS.get(k, (k,)))  # noqa: E731
    blocks = [Block("letterhead", (rng.choice((f"{prov}建设工程质量监督总站监制", f"{prov}建筑工程施工质量验收资料",
                                               f"{ctx.w.city}市建设工程资料统一用表")),)),
              Block("title", (f"{title}{rng.choice(('', '（通用）', '表'))}" if not title.endswith("表") else title,)),
              Block("meta", (f"表式编号 {number}",)),
              Block("row", (lab("工程名称"), ctx.w.project)),
              Block("row", (lab("建设单位"), ctx.unit("建设单位"), lab("施工单位"), ctx.unit("施工单位")))]
    for f in ctx.p.fields[: rng.randint(2, 6)]:
        if not re.search(r"工程名称|施工单位|建设单位", f):
            blocks.append(Block("row", (ctx.value(f), f"（{f}）")))
    blocks.append(Block("row", (rng.choice(("情况说明", "具体情况", "内容摘要")), "；".join(ctx.body(rng.randint(2, 4))))))
    blocks.append(Block("sign", (f"{lab('施工单位')}项目负责人（签章）：{ctx.person()}", ctx.date())))
    blocks.append(Block("sign", (f"{lab('监理单位')}意见：{rng.choice(('同意', '情况属实', '符合要求'))}", f"（签章）{ctx.person()}", ctx.date())))
    return Draft(blocks, title, number, ctx.w.date, "form")


def oa_print(ctx: Ctx) -> Draft:
    """Printout of an OA approval workflow: 流程标题, nodes with approvers and times, attachments."""
    rng = ctx.rng
    std = ctx.p.standard_title
    title = std if rng.random() < 0.5 else ""
    number = f"{rng.choice(('LC', 'OA', 'SP'))}{ctx.w.date.year}{rng.randint(100000, 999999)}"
    subject = f"{ctx.w.project}{title or ctx.keyword()}{rng.choice(('报审', '审批', '确认', '流转'))}"
    blocks = [Block("meta", (f"{ctx.unit(rng.choice(('建设单位', '施工单位')))}协同办公平台",)),
              Block("title", (f"流程标题：{subject}",)),
              Block("para", (f"流水号：{number}    紧急程度：{rng.choice(('普通', '急', '一般'))}",)),
              Block("para", (f"发起人：{ctx.person()}    发起部门：{rng.choice(('工程部', '项目部', '技术部', '合约部', '前期部'))}",)),
              Block("para", (f"摘要：{''.join(ctx.body(rng.randint(1, 3)))}",))]
    t = ctx.w.date
    for node in rng.sample(("项目部经办", "部门负责人审核", "技术负责人审核", "总监审批", "分管领导审批", "档案室归档"), rng.randint(2, 4)):
        blocks.append(Block("row", (node, ctx.person(), rng.choice(("同意", "同意。", "已阅", "同意，按规定办理")),
                                    f"{t.isoformat()} {rng.randint(8, 18):02d}:{rng.randint(0, 59):02d}")))
    att = title or ctx.keyword()
    blocks.append(Block("para", (f"附件：{att}{rng.choice(('.pdf', '（扫描件）.pdf', '.docx'))}（{rng.uniform(0.1, 9):.1f}MB）",)))
    blocks.append(Block("footer", (f"打印人：{ctx.person()}  打印时间：{ctx.other_date(0, 400)}",)))
    return Draft(blocks, title, number, ctx.w.date, "plain")


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("form", False, form), Family("letter", False, letter), Family("redhead", False, redhead),
    Family("permit", False, permit), Family("test_report", False, test_report), Family("minutes", False, minutes),
    Family("chapters", False, chapters), Family("drawing", False, drawing), Family("acceptance", False, acceptance),
    Family("log", False, log), Family("contract", False, contract), Family("photo_sheet", False, photo_sheet),
    Family("fielddump", True, fielddump), Family("narrative", True, narrative), Family("excerpt", True, excerpt),
    Family("regional", True, regional), Family("oa_print", True, oa_print),
)}
TRAIN_FAMILIES = tuple(n for n, f in FAMILIES.items() if not f.heldout)
HELDOUT_FAMILIES = tuple(n for n, f in FAMILIES.items() if f.heldout)

_RULES: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("redhead", ("批复", "审查意见", "批示", "备案", "验收文件或意见", "规划意见", "选址", "论证意见"), 3.0),
    ("permit", ("许可证", "批准书", "证书", "证明文件", "合格证", "商检", "土地使用"), 3.0),
    ("test_report", ("试验报告", "复试报告", "检测报告", "检验报告", "探伤", "检测文件", "型式检测", "拉拔", "检验记录"), 3.0),
    ("minutes", ("会议纪要", "纪要", "论证意见", "会审"), 3.0),
    ("chapters", ("勘察报告", "设计文件", "说明书", "计算书", "施工组织设计", "方案", "监理规划", "实施细则", "月报",
                  "总结", "质量检查报告", "评估报告", "竣工报告", "验收报告", "建议书", "可行性", "招投标", "估算", "概算",
                  "控制价", "结算", "决算", "保修书", "保证书", "检测计划", "事故报告", "质量事故", "价格文件"), 3.0),
    ("contract", ("合同",), 4.0),
    ("letter", ("通知", "联系单", "回复", "暂停令", "洽商", "核定", "变更", "移交书", "钉桩", "移交证书", "协议"), 3.0),
    ("acceptance", ("验收记录", "验槽", "核查", "观感", "预验收", "验收意见", "验收证书", "交接检查", "检查记录"), 2.5),
    ("log", ("日志", "测温", "观测", "监测", "钎探", "名册", "汇总表", "动态表", "进度计划", "曲线"), 3.0),
    ("form", ("记录", "报审表", "申请表", "审批表", "申请书", "通知单", "表", "单", "鉴定"), 2.0),
)


def train_family_weights(item: Item, p: ItemProfile) -> dict[str, float]:
    """Which training layouts suit ``item``: keyword rules over its titles, plus a fallback."""
    if item.class_code == "D":
        return {"drawing": 6.0, "log": 1.0}
    if item.class_code == "E3":
        return {"photo_sheet": 4.0, "log": 2.0, "form": 1.0}
    text = " ".join((item.name, *p.names))
    weights: dict[str, float] = {}
    for fam, words, w in _RULES:
        if any(word in text for word in words):
            weights[fam] = weights.get(fam, 0.0) + w
    if p.issuer == "检测机构":
        weights["test_report"] = weights.get("test_report", 0.0) + 2.0
    if p.authority:
        weights["redhead"] = weights.get("redhead", 0.0) + 1.5
    fallback = "form" if item.class_code[0] in "BC" or item.class_code == "A7" else "chapters"
    weights.setdefault(fallback, 1.0)
    if len(weights) < 2:
        weights.setdefault("letter" if fallback == "chapters" else "acceptance", 0.7)
    return weights


def heldout_family_weights(item: Item, p: ItemProfile) -> dict[str, float]:
    w = {"fielddump": 1.0, "narrative": 1.2, "excerpt": 1.2, "regional": 1.0, "oa_print": 0.8}
    if item.class_code == "D":
        w["regional"] = 0.3
    if item.class_code[0] in "A":
        w["oa_print"] = 1.2
    return w
