"""OCR engines on this machine: speed, accuracy and memory on clean and degraded construction forms.

Generates its own pages (deterministic for a seed): A4 forms in the style of 隐蔽工程验收记录,
施工日志, 监理通知单 …, alternating WenQuanYi Zen Hei and AR PL UMing, 10–12 pt, with a bordered table
on some pages. Each page is OCR'd twice per engine:

* clean: rendered at 200 dpi grayscale;
* degraded: rotated ±1–3°, Gaussian blur, contrast squeezed to 70–200, noise σ=12, JPEG quality 30
  — then deskewed (features/deskew.py) as the pipeline does.

CER = Levenshtein(ref, hyp) / len(ref) after NFKC and removing whitespace. Each engine runs in its
own process, so peak RSS is that engine's. ``--det-sweep`` also measures RapidOCR's detection-size
settings, which decide its default (features/ocr/rapid.py).

    .venv/bin/python benchmarks/bench_ocr.py [--pages 6] [--threads 1] [--engines rapidocr,tesseract] [--det-sweep]
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import platform
import random
import re
import resource
import sys
import time
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FONTS = ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "/usr/share/fonts/truetype/arphic/uming.ttc")
RESULTS_DIR = Path(__file__).resolve().parent / "results"

TITLES = ["隐蔽工程验收记录", "施工日志", "监理通知单", "竣工验收报告", "钢筋原材料进场检验记录", "混凝土浇筑申请书",
          "工程质量事故处理报告", "分项工程质量验收记录"]
PROJECTS = ["滨江花园二期3号楼", "城南污水处理厂扩建工程", "市第一人民医院门诊综合楼", "高新区人才公寓A区",
            "地铁5号线车辆段上盖物业", "青山湖大桥引桥工程"]
UNITS = ["华建集团第二工程有限公司", "中建三局第一建设工程有限责任公司", "浙江东方建设监理有限公司",
         "省建筑设计研究院有限公司", "城投置业发展有限公司"]
PARTS = ["地下室底板钢筋", "二层框架柱", "屋面防水层", "桩基础承台", "外墙保温系统", "消防管道安装"]
SENTENCES = [
    "钢筋规格为HRB400 Φ{a}@{b}，保护层厚度{c}mm，混凝土强度等级C{d}。",
    "经检查，钢筋数量、规格、间距符合设计要求及GB50204-2015的规定，同意隐蔽。",
    "今日天气晴，气温{a}℃至{c}℃，现场施工人员{b}人，塔吊{d}台正常运行。",
    "请施工单位于{a}日内完成整改，并将整改结果书面回复监理部。",
    "基础采用钻孔灌注桩，桩径{b}mm，桩长{c}m，Ⅰ类桩占比{a}%。",
    "本工程总建筑面积约{b}平方米，地上{a}层，地下{d}层，框架剪力墙结构。",
    "混凝土坍落度实测{b}mm，试块留置{a}组，养护时间不少于{d}天。",
    "防水卷材进场复验合格，搭接宽度不小于{b}mm，细部构造处理到位。",
]


@dataclass(frozen=True)
class Page:
    lines: tuple[str, ...]
    font: int
    size: float
    table: bool


def make_pages(n: int, seed: int) -> list[Page]:
    rng = random.Random(seed)
    pages = []
    for i in range(n):
        lines = [rng.choice(TITLES),
                 f"工程名称：{rng.choice(PROJECTS)}    施工单位：{rng.choice(UNITS)}",
                 f"验收部位：{rng.choice(PARTS)}    日期：{rng.randint(2005, 2024)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
                 f"编号：GC-{rng.randint(2005, 2024)}-{rng.randint(1, 999):03d}    监理单位：{rng.choice(UNITS)}"]
        for _ in range(rng.randint(9, 13)):
            lines.append(rng.choice(SENTENCES).format(a=rng.randint(2, 40), b=rng.randint(100, 9000),
                                                      c=rng.randint(10, 60), d=rng.randint(1, 9)))
        lines.append(f"项目负责人：{rng.choice('张王李赵刘陈杨黄')}{rng.choice('建国伟明强军华平')}    "
                     f"专业监理工程师：{rng.choice('周吴郑孙马朱胡林')}{rng.choice('海波志勇杰涛斌磊')}")
        pages.append(Page(lines=tuple(lines), font=i % 2, size=(12.0, 10.5, 11.0)[i % 3], table=i % 3 == 1))
    return pages


def page_pdf(page: Page) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format="A4")
    pdf.add_font("zh", "", FONTS[page.font], collection_font_number=0)
    pdf.add_page()
    pdf.set_font("zh", size=page.size)
    line_h = page.size * 0.62
    for i, line in enumerate(page.lines):
        if page.table and 4 <= i < 10:  # a bordered two-column inspection table
            label, _, value = line.partition("，")
            pdf.cell(60, line_h + 2, label[:14], border=1)
            pdf.cell(0, line_h + 2, (value or "合格")[:30], border=1, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.multi_cell(0, line_h, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def reference_text(page: Page) -> str:
    out = []
    for i, line in enumerate(page.lines):
        if page.table and 4 <= i < 10:
            label, _, value = line.partition("，")
            out.append(label[:14] + (value or "合格")[:30])
        else:
            out.append(line)
    return "\n".join(out)


def render(pdf_bytes: bytes, dpi: int = 200) -> np.ndarray:
    import pypdfium2 as pdfium

    from features.raster import render_pdf_page

    doc = pdfium.PdfDocument(pdf_bytes)
    try:
        page = doc[0]
        try:
            return render_pdf_page(page, dpi=dpi)
        finally:
            page.close()
    finally:
        doc.close()


def degrade(gray: np.ndarray, rng: random.Random) -> np.ndarray:
    """A legacy office scan: tilt, blur, washed-out contrast, sensor noise, heavy JPEG."""
    from PIL import Image, ImageFilter

    from features.deskew import rotate

    angle = rng.choice([-1, 1]) * rng.uniform(1.0, 3.0)
    img = Image.fromarray(rotate(gray, angle)).filter(ImageFilter.GaussianBlur(radius=1.0))
    arr = np.asarray(img, dtype=np.float64)
    arr = 70 + arr * (130 / 255)
    arr += np.random.default_rng(rng.randint(0, 2**31)).normal(0, 12, arr.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=30)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"))


def cer(ref: str, hyp: str) -> float:
    from rapidfuzz.distance import Levenshtein

    def norm(s: str) -> str:
        return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))

    r = norm(ref)
    return Levenshtein.distance(r, norm(hyp)) / max(len(r), 1)


def _run_engine(spec: dict[str, Any], images: dict[str, list[np.ndarray]], refs: list[str], queue: Any) -> None:
    """Child process: build one engine, OCR every set, report CER, timing and peak RSS."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    from features.deskew import deskew

    try:
        t0 = time.perf_counter()
        engine = _build(spec)
        load_s = time.perf_counter() - t0
        engine.recognize(images["clean"][0][:600])  # warm-up
        out: dict[str, Any] = {"label": spec["label"], "load_s": round(load_s, 2)}
        for set_name, pages in images.items():
            cers, secs, cpu = [], [], []
            for img, ref in zip(pages, refs):
                w0, c0 = time.perf_counter(), _cpu()
                straight = deskew(img).image
                text = engine.recognize(straight).text
                secs.append(time.perf_counter() - w0)
                cpu.append(_cpu() - c0)
                cers.append(cer(ref, text))
            out[set_name] = {
                "cer_pct": round(100 * float(np.mean(cers)), 2),
                "cer_max_pct": round(100 * float(np.max(cers)), 2),
                "s_per_page": round(float(np.median(secs)), 2),
                "pages_per_min": round(60 / float(np.mean(secs)), 1),
                "cpu_s_per_page": round(float(np.mean(cpu)), 2),
            }
        # Tesseract works in child processes: count their memory too.
        peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        out["peak_rss_mb"] = round(peak_kb / 1024)
        queue.put(out)
    except Exception as exc:  # report, don't hang the parent
        queue.put({"label": spec["label"], "error": f"{type(exc).__name__}: {exc}"})


def _cpu() -> float:
    """CPU seconds of this process and its finished children (Tesseract runs as a subprocess)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _build(spec: dict[str, Any]):  # type: ignore[no-untyped-def]
    if spec.get("rapid_kwargs") is not None:
        from features.ocr.rapid import RapidOcrEngine

        return RapidOcrEngine(threads=spec["threads"], **spec["rapid_kwargs"])
    from features.ocr.registry import create_engine

    return create_engine(spec["engine"], threads=spec["threads"], cache_dir=spec.get("cache_dir"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=6)
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--threads", type=int, default=1, help="threads per engine (the pipeline uses 1 per worker)")
    ap.add_argument("--engines", default="", help="comma-separated; default: every available engine")
    ap.add_argument("--det-sweep", action="store_true", help="also compare RapidOCR detection sizes")
    args = ap.parse_args()

    from features.ocr.registry import available_engines

    engines = [e for e in args.engines.split(",") if e] or available_engines()
    pages = make_pages(args.pages, args.seed)
    rng = random.Random(args.seed)
    clean = [render(page_pdf(p)) for p in pages]
    images = {"clean": clean, "degraded": [degrade(img, rng) for img in clean]}
    refs = [reference_text(p) for p in pages]

    specs: list[dict[str, Any]] = [{"label": e, "engine": e, "threads": args.threads,
                                    "cache_dir": Path("~/.cache/dangan").expanduser()} for e in engines]
    if args.det_sweep:
        for label, kw in [
            ("rapidocr[page 2339 px, det full res]", {"max_side_len": 4700}),
            ("rapidocr[page 2339 px, det <= 1600]",
             {"max_side_len": 4700, "det_limit_side_len": 1600, "det_limit_type": "max"}),
            ("rapidocr[page 2339 px, det <= 1280]",
             {"max_side_len": 4700, "det_limit_side_len": 1280, "det_limit_type": "max"}),
            ("rapidocr[page <= 1600 px]", {"max_side_len": 1600}),
        ]:
            specs.append({"label": label, "threads": args.threads, "rapid_kwargs": kw})

    ctx = mp.get_context("spawn")
    results = []
    for spec in specs:
        queue = ctx.Queue()
        proc = ctx.Process(target=_run_engine, args=(spec, images, refs, queue))
        proc.start()
        res = queue.get()
        proc.join()
        results.append(res)
        print(_row(res), flush=True)

    base = next((r for r in results if r["label"] == "tesseract" and "error" not in r), None)
    if base:
        print("\nratio vs tesseract (CER; speed):")
        for r in results:
            if "error" in r or r is base:
                continue
            for s in ("clean", "degraded"):
                print(f"  {r['label']:<50} {s:<8} CER x{r[s]['cer_pct'] / max(base[s]['cer_pct'], 1e-9):.2f}  "
                      f"pages/min x{r[s]['pages_per_min'] / base[s]['pages_per_min']:.2f}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"bench_ocr_{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({
        "machine": {"python": platform.python_version(), "cpus": mp.cpu_count(), "platform": platform.platform()},
        "args": vars(args), "pages": [asdict(p) for p in pages], "results": results,
    }, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    print(f"\nwritten {out}")


def _row(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"{r['label']:<50} ERROR {r['error']}"
    cells = [f"{s}: CER {r[s]['cer_pct']:5.2f}% (max {r[s]['cer_max_pct']:5.2f})  {r[s]['pages_per_min']:5.1f} p/min "
             f"({r[s]['cpu_s_per_page']:.2f} CPU-s/p)" for s in ("clean", "degraded")]
    return f"{r['label']:<50} load {r['load_s']:4.1f}s  " + "  |  ".join(cells) + f"  RSS {r['peak_rss_mb']} MB"


if __name__ == "__main__":
    main()
