from models.catalogue import load_catalogue


def test_catalogue_shape():
    cat = load_catalogue()
    assert len(cat) == 331
    assert cat.stages == ["A", "B", "C", "D", "E"]
    assert len(cat.class_codes) == 26
    assert cat["C5-1"].name == "隐蔽工程验收记录"
    assert cat["C5-1"].class_code == "C5" and cat["C5-1"].stage == "C"


def test_same_named_items_are_equivalent():
    cat = load_catalogue()
    assert cat.equivalent("B2-1", "C3-1")  # 工程开工报审表
    assert cat.equivalent("B4-4", "C3-9")  # 费用索赔申请表
    assert not cat.equivalent("C5-1", "C5-2")
    assert set(cat.equivalents("B3-5")) == {"B3-5", "C2-1"}


def test_catalogue_order():
    cat = load_catalogue()
    assert cat.order_key("A1-1") < cat.order_key("A1-2") < cat.order_key("C5-1") < cat.order_key("C5-10")
