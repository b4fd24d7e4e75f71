"""Realistic damage: masked names, missing titles, archive boilerplate, and simulated OCR errors.

Archives hand in redacted copies (某某, ***), excerpts without their title page, pages carrying an
归档章 and 第1页 共2页, and scans whose OCR confuses 竣/峻 and 、/丶. Training on clean templates only
would make the model brittle against exactly what it will meet, so each document samples a few.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from samplegen.context import Ctx
from samplegen.doc import Block
from samplegen.world import ROLES

# Visually similar characters that PP-OCR confuses on real scans.
SIMILAR: dict[str, str] = {
    "竣": "峻", "埋": "理", "砼": "硷", "筋": "茄", "浇": "烧", "捣": "揭", "凝": "疑", "土": "士", "己": "已",
    "未": "末", "千": "干", "人": "入", "日": "曰", "拨": "拔", "梁": "粱", "侯": "候", "戊": "戌", "汆": "氽",
    "刺": "剌", "微": "徽", "析": "折", "贝": "见", "设": "没", "检": "捡", "验": "脸", "监": "鉴", "施": "旅",
    "层": "居", "墙": "培", "钢": "钔", "柱": "桂", "板": "扳", "基": "墓", "础": "础", "程": "桯", "处": "外",
    "责": "贵", "师": "帅", "项": "顶", "部": "郜", "位": "住", "材": "村", "料": "科", "测": "侧", "式": "武",
    "密": "蜜", "管": "菅", "道": "遒", "围": "团", "护": "扩", "孔": "扎", "桩": "粧", "0": "O", "1": "l",
    "5": "S", "8": "B", "2": "Z", "℃": "C", "㎡": "m2", "m³": "m3", "Φ": "φ", "±": "+",
}
PUNCT: dict[str, str] = {"、": "丶", "。": "°", "×": "x", "，": ",", "：": ":", "（": "(", "）": ")", "；": ";",
                         "—": "-", "〔": "[", "〕": "]", "《": "<", "》": ">", "Ⓐ": "A", "①": "1"}


def ocr_noise(text: str, rng: random.Random, level: int = 1) -> str:
    """Simulate PP-OCR output errors on ``text``.

    ``level`` 0 returns the text unchanged; 1 is a decent scan, 2 a poor one, 3 a bad fax. Errors:
    punctuation confusions, visually similar characters, dropped characters, dropped, merged and
    swapped neighbouring lines, stray spaces.
    """
    if level <= 0 or not text:
        return text
    p_char = (0.0, 0.012, 0.035, 0.07)[min(level, 3)]
    p_punct = (0.0, 0.25, 0.45, 0.6)[min(level, 3)]
    p_line = (0.0, 0.03, 0.07, 0.12)[min(level, 3)]
    lines = text.split("\n")
    out_lines: list[str] = []
    for line in lines:
        chars: list[str] = []
        for ch in line:
            r = rng.random()
            if ch in PUNCT and r < p_punct:
                chars.append(PUNCT[ch])
            elif ch in SIMILAR and r < p_char * 6:
                chars.append(SIMILAR[ch])
            elif r < p_char * 0.3:
                continue  # dropped character
            elif r < p_char * 0.45:
                chars.append(ch + " ")
            else:
                chars.append(ch)
        out_lines.append("".join(chars))
    i = 0
    result: list[str] = []
    while i < len(out_lines):
        line = out_lines[i]
        r = rng.random()
        if r < p_line and len(out_lines) > 3:
            i += 1  # dropped line
            continue
        if r < p_line * 2 and i + 1 < len(out_lines):
            result.append(line + rng.choice(("", " ")) + out_lines[i + 1])  # merged with the next line
            i += 2
            continue
        if r < p_line * 3 and i + 1 < len(out_lines):
            result += [out_lines[i + 1], line]  # neighbouring lines swapped (column order)
            i += 2
            continue
        result.append(line)
        i += 1
    return "\n".join(result)


@dataclass(frozen=True)
class Perturbation:
    """Probabilities of each perturbation; calib draws them heavier than train."""

    mask: float
    drop_title: float
    header: float
    boilerplate: float
    shuffle_rows: float
    drop_rows: float


LIGHT = Perturbation(mask=0.15, drop_title=0.05, header=0.25, boilerplate=0.3, shuffle_rows=0.1, drop_rows=0.1)
HEAVY = Perturbation(mask=0.5, drop_title=0.25, header=0.5, boilerplate=0.6, shuffle_rows=0.35, drop_rows=0.35)
PINNED = Perturbation(mask=0.1, drop_title=0.0, header=0.25, boilerplate=0.3, shuffle_rows=0.0, drop_rows=0.0)
TEST = Perturbation(mask=0.3, drop_title=0.1, header=0.4, boilerplate=0.45, shuffle_rows=0.2, drop_rows=0.2)

_MASKS = ("某某", "***", "XX", "×××", "＊＊", "〇〇")


def _mask_name(name: str, rng: random.Random) -> str:
    m = rng.choice(_MASKS)
    if len(name) <= 3:  # a person: keep the surname
        return name[0] + m
    style = rng.random()
    if style < 0.4:
        return m + name[-6:] if len(name) > 8 else m  # 某某建设集团有限公司
    if style < 0.7:
        return name[:2] + m + name[-4:]
    return m


def perturb(blocks: list[Block], title: str, ctx: Ctx, prof: Perturbation) -> tuple[list[Block], str]:
    """Apply sampled perturbations; returns new blocks and the title still printed ('' if dropped)."""
    rng = ctx.rng
    blocks = list(blocks)
    if title and rng.random() < prof.drop_title:
        kept = [b for b in blocks if not (b.kind == "title" and title in b.text)]
        if len(kept) < len(blocks):
            blocks, title = kept, ""
    if rng.random() < prof.mask:
        targets = [*ctx.w.people.names.values()]
        if rng.random() < 0.5:
            targets += [ctx.w.units[r] for r in ROLES]
        if rng.random() < 0.3:
            targets.append(ctx.w.project)
        mapping = {t: _mask_name(t, rng) for t in targets if rng.random() < 0.7}
        blocks = [Block(b.kind, tuple(_replace_all(c, mapping) for c in b.cells)) for b in blocks]
    rows = [i for i, b in enumerate(blocks) if b.kind in ("row", "para")]
    if rows and rng.random() < prof.drop_rows:
        drop = set(rng.sample(rows, max(1, len(rows) // 6)))
        blocks = [b for i, b in enumerate(blocks) if i not in drop]
    if rng.random() < prof.shuffle_rows:
        idx = [i for i, b in enumerate(blocks) if b.kind == "row"]
        if len(idx) > 2:
            a, b = rng.sample(idx, 2)
            blocks[a], blocks[b] = blocks[b], blocks[a]
    if rng.random() < prof.header:
        blocks.insert(0, Block("letterhead", (rng.choice((
            ctx.w.units[ctx.issuer_role()], f"{ctx.w.units['施工单位']}{ctx.w.project}项目经理部",
            f"{ctx.w.gov('城市建设档案馆')}", f"{ctx.w.gov('建设工程质量安全监督站')}监制", f"{ctx.w.units['监理单位']}项目监理部",
        )),)))
    if rng.random() < prof.boilerplate:
        for _ in range(rng.randint(1, 3)):
            blocks.append(_boilerplate(ctx))
    return blocks, title


def _replace_all(text: str, mapping: dict[str, str]) -> str:
    for src in sorted(mapping, key=len, reverse=True):
        if src in text:
            text = text.replace(src, mapping[src])
    return text


def _boilerplate(ctx: Ctx) -> Block:
    rng = ctx.rng
    n = rng.randint(1, 4)
    kind = rng.randint(0, 6)
    if kind == 0:
        return Block("footer", (f"第{rng.randint(1, n)}页 共{n}页",))
    if kind == 1:
        return Block("stamp_note", ("归档章", f"档号：{ctx.w.city_short}{rng.randint(1000, 9999)}-{rng.randint(1, 99)}",
                                    f"保管期限：{rng.choice(('永久', '长期', '30年', '10年'))}",
                                    f"归档日期：{ctx.other_date(30, 500)}"))
    if kind == 2:
        return Block("para", (f"附件：{rng.randint(1, 5)}份",))
    if kind == 3:
        return Block("footer", (rng.choice((
            "本表由施工单位填写，建设单位、监理单位、施工单位、城建档案馆各保存一份。",
            "注：本表一式四份，各方签字盖章后生效。",
            f"{ctx.w.gov('住房和城乡建设局')}监制",
            "复印件与原件一致", "此件与原件核对无误",
        )),))
    if kind == 4:
        return Block("footer", (f"{ctx.w.units['施工单位']}  {ctx.w.project}项目部",))
    if kind == 5:
        return Block("meta", (rng.choice(("副本", "存档", "原件", "受控文件", "第 页")),))
    return Block("footer", (f"- {rng.randint(1, n)} -",))
