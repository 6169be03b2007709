"""Tests for xunqin.normalizers.features."""

import pytest

from xunqin.normalizers.features import EMPTY, Features, feature_parser, parse_features


def tokens(kind, part="", side=""):
    """All tokens one mark produces: fine, side dropped, part dropped."""
    return {f"{kind}:{part}:{side}", f"{kind}:{part}:", f"{kind}::"}


@pytest.mark.parametrize(
    ("raw", "marks", "conditions"),
    [
        ("左眉有疤", tokens("疤", "眉", "左"), set()),
        ("左眉毛处有疤痕", tokens("疤", "眉", "左"), set()),
        ("眉毛左侧有疤", tokens("疤", "眉", "左"), set()),
        ("疤痕位于右眉", tokens("疤", "眉", "右"), set()),
        ("額頭有一道約3厘米疤痕", tokens("疤", "额"), set()),  # traditional
        ("头部有手术疤痕", tokens("疤", "头"), set()),
        ("脸颊有痣", tokens("痣", "脸"), set()),
        ("智力障碍，左脸有黑痣", tokens("痣", "脸", "左"), {"智力障碍"}),
        ("右手缺食指", tokens("缺指", "手指", "右"), set()),
        ("右手食指缺失", tokens("缺指", "手指", "右"), set()),
        ("左手少一节小拇指", tokens("缺指", "手指", "左"), set()),
        ("断指", tokens("缺指", "手指"), set()),
        ("右腿截肢", tokens("缺肢", "腿", "右"), {"肢体残疾"}),
        ("门牙缺失", tokens("缺牙", "牙"), set()),
        ("没有门牙", tokens("缺牙", "牙"), set()),
        ("胳膊上有纹身", tokens("纹身", "臂"), set()),
        ("左手臂有刺青", tokens("纹身", "臂", "左"), set()),
        ("左腿跛", tokens("跛", "腿", "左"), {"肢体残疾"}),
        ("跛脚", tokens("跛", "腿"), {"肢体残疾"}),
        ("驼背", tokens("驼背", "背"), set()),
        ("左眼斜视", tokens("斜视", "眼", "左"), set()),
        ("满头白发", tokens("白发", "头"), set()),
        ("兔唇", tokens("兔唇", "嘴"), set()),
        ("左手背有烧伤", tokens("烫伤", "手", "左"), set()),
        ("双手有烫伤", tokens("烫伤", "手", "左") | tokens("烫伤", "手", "右"), set()),
        ("两手有烧伤疤痕", tokens("烫伤", "手", "左") | tokens("烫伤", "手", "右"), set()),
        ("两颗痣", tokens("痣"), set()),  # 两 is a count here, not 双
        ("有纹身", tokens("纹身"), set()),
        ("左眉有疤，右手有痣", tokens("疤", "眉", "左") | tokens("痣", "手", "右"), set()),
        ("左眉有疤右手有痣", tokens("疤", "眉", "左") | tokens("痣", "手", "右"), set()),
        ("左眉无疤右手有痣", tokens("痣", "手", "右"), set()),
        ("右手食指缺失右脚有疤",
         tokens("缺指", "手指", "右") | tokens("疤", "脚", "右"), set()),
        # negations
        ("无明显疤痕", set(), set()),
        ("無明顯疤痕", set(), set()),
        ("无特殊特征", set(), set()),
        ("没有纹身", set(), set()),
        ("没有纹身和疤痕", set(), set()),
        ("未见明显的疤痕或胎记", set(), set()),
        ("无精神病史", set(), set()),
        # clothing and noise
        ("穿蓝色外套", set(), set()),
        ("穿蓝色外套，左臂有纹身", tokens("纹身", "臂", "左"), set()),
        ("穿黑色外套左臂有纹身", tokens("纹身", "臂", "左"), set()),
        ("身高165左右，戴眼镜，双眼皮", set(), set()),
        ("手机号不详", set(), set()),
        # conditions
        ("聋哑", set(), {"聋哑", "聋", "哑"}),
        ("不会说话", set(), {"聋哑", "哑"}),
        ("哑巴", set(), {"聋哑", "哑"}),
        ("听力障碍", set(), {"聋"}),
        ("耳聋，失语", set(), {"聋", "哑", "聋哑"}),
        ("智障", set(), {"智力障碍"}),
        ("智力低下", set(), {"智力障碍"}),
        ("精神分裂", set(), {"精神障碍"}),
        ("神志不清", set(), {"精神障碍"}),
        ("老年痴呆，记忆力差", set(), {"老年痴呆"}),
        ("阿尔茨海默病", set(), {"老年痴呆"}),
        ("双目失明", set(), {"失明", "视力障碍"}),
        ("羊角风", set(), {"癫痫"}),
        ("说话声音沙哑", set(), set()),
        # hostile
        (None, set(), set()),
        ("", set(), set()),
        ("   ", set(), set()),
        ("ＬＥＦＴ　ＨＡＮＤ", set(), set()),
        (12345, set(), set()),
        ("疤" * 50_000, tokens("疤"), set()),
    ],
)
def test_parse_features(raw, marks, conditions):
    f = parse_features(raw)
    assert isinstance(f, Features)
    assert f.marks == marks
    assert f.conditions == conditions


@pytest.mark.parametrize(
    ("station", "family", "shared"),
    [
        ("左眉有疤", "左眉毛处有疤痕", "疤:眉:左"),
        ("左眉有疤", "眉毛上有伤疤", "疤:眉:"),
        ("右手缺食指", "右手食指断了一节", "缺指:手指:右"),
        ("左手缺指", "左手中指残缺", "缺指:手指:左"),
        ("跛脚", "左腿瘸", "跛:腿:"),
        ("罗锅", "驼背", "驼背:背:"),
        ("额头有疤", "脑门上有一道刀疤", "疤:额:"),
        ("左臂有纹身", "左胳膊刺青", "纹身:臂:左"),
        ("脸上有黑痣", "面部有痦子", "痣:脸:"),
        ("左手有烧伤", "左手掌烫伤", "烫伤:手:左"),
        ("右眼斜视", "斗鸡眼", "斜视:眼:"),
        ("有胎记", "后背有青记", "胎记::"),
    ],
)
def test_paraphrases_meet(station, family, shared):
    assert shared in parse_features(station).marks
    assert shared in parse_features(family).marks


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("聋哑", "不会说话"),
        ("智障", "弱智"),
        ("精神病", "精神异常"),
        ("痴呆", "认知障碍"),
        ("失明", "视力差"),
    ],
)
def test_condition_paraphrases_meet(a, b):
    assert parse_features(a).conditions & parse_features(b).conditions


def test_empty_is_shared_and_frozen():
    assert parse_features(None) is EMPTY
    with pytest.raises(AttributeError):
        EMPTY.marks = frozenset({"疤::"})  # type: ignore[misc]


def test_feature_parser_gives_what_parse_features_gives():
    # a column of features texts: the table above (traditional, full-width, clauses), and odd cells
    column = [raw for raw, _, _ in test_parse_features.pytestmark[0].args[1]]
    column += ["", "   ", "左手有疤\x00右手有痣", "ＬＥＦＴ  左臂纹身", "聋哑，左耳后有痣" * 60, " " * 1996 + "左手有疤右脚有痣", None, float("nan"), 3]
    parse = feature_parser(column)
    assert [parse(v) for v in column] == [parse_features(v) for v in column]
    assert any(parse(v).marks for v in column)
