"""Tags from the shapes real archive documents print them in."""

import pytest

from features.segmentation import Segmenter
from features.tags import extract_tags, parse_date


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2019年5月12日", "2019-05-12"),
        ("2019 年 05 月 12 日", "2019-05-12"),
        ("2019.05.12", "2019-05-12"),
        ("2019/5/12", "2019-05-12"),
        ("2019-05-12", "2019-05-12"),
        ("二〇一九年五月十二日", "2019-05-12"),
        ("二〇二〇年十二月三十一日", "2020-12-31"),
        ("二〇二一年十月一日", "2021-10-01"),
        ("２０１９年５月１２日", "2019-05-12"),  # full-width digits from OCR
        ("2019-13-01", None),
        ("2019年2月30日", None),
    ],
)
def test_dates_in_every_common_form(text, iso):
    assert parse_date(text) == iso


FORM = """施工单位：中建八局第三建设有限公司
隐蔽工程验收记录
工程名称：滨江花园二期3#住宅楼      编号：C5-1-003
隐检部位：三层梁板钢筋        隐检日期：2019年5月12日
建设单位：滨江城市建设投资集团有限公司
监理单位：上海建科工程咨询有限公司
钢筋品种、规格、数量、间距、锚固长度符合设计及规范要求，保护层厚度满足要求。
专业监理工程师：张三                       2019.05.14
"""


def test_labelled_form_fields():
    tags = extract_tags(FORM, Segmenter())
    assert tags.project_name == "滨江花园二期3#住宅楼"
    assert tags.doc_number == "C5-1-003"
    assert tags.doc_date == "2019-05-12"  # the labelled date wins over the signature date
    roles = {u.role: u.name for u in tags.units}
    assert roles == {
        "施工单位": "中建八局第三建设有限公司",
        "建设单位": "滨江城市建设投资集团有限公司",
        "监理单位": "上海建科工程咨询有限公司",
    }
    assert tags.discipline == "结构"
    assert "钢筋" in tags.keywords
    assert not {"工程", "单位", "名称"} & set(tags.keywords)


def test_approval_number_and_project_from_title():
    text = """江州市发展和改革委员会
江发改投资〔2019〕123号
关于滨江花园二期工程项目建议书的批复
滨江城市建设投资集团有限公司：
你单位报来的项目建议书收悉。经研究，原则同意该项目立项。
二〇一九年六月三日"""
    tags = extract_tags(text)
    assert tags.doc_number == "江发改投资〔2019〕123号"
    assert tags.project_name == "滨江花园二期工程"
    assert tags.doc_date == "2019-06-03"


def test_ocr_glued_labels_are_split():
    tags = extract_tags("工程名称:江州大道综合管廊工程编号:GL-2020-07日期:2020/7/1")
    assert tags.project_name == "江州大道综合管廊工程"
    assert tags.doc_number == "GL-2020-07"
    assert tags.doc_date == "2020-07-01"


def test_nothing_found_is_none_not_garbage():
    tags = extract_tags("今日菜单：宫保鸡丁，鱼香肉丝，米饭。")
    assert tags.project_name is None and tags.doc_number is None and tags.doc_date is None
    assert tags.units == ()
