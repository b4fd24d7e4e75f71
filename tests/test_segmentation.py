import pickle

from features.segmentation import Segmenter


def test_domain_terms_stay_whole():
    seg = Segmenter(["隐蔽工程验收记录", "工程洽商记录"])
    words = seg.words("隐蔽工程验收记录：钢筋保护层厚度符合要求；检验批质量验收记录。工程洽商记录")
    assert "隐蔽工程验收记录" in words
    assert "检验批" in words
    assert "工程洽商记录" in words


def test_fullwidth_is_normalised_and_punctuation_dropped():
    words = Segmenter().words("Ｃ３０混凝土，ＨＲＢ４００钢筋。")
    assert "C30" in words and "HRB400" in words
    assert "，" not in words and "。" not in words


def test_segmenters_do_not_share_dictionaries_and_pickle_small():
    a = Segmenter(["滨江花园二期"])
    b = Segmenter()
    assert "滨江花园二期" in a.words("滨江花园二期工程")
    assert "滨江花园二期" not in b.words("滨江花园二期工程")
    blob = pickle.dumps(a)
    assert len(blob) < 10_000  # the jieba dictionary is rebuilt in each process, not shipped
    assert pickle.loads(blob).words("滨江花园二期工程") == a.words("滨江花园二期工程")
