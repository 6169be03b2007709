"""The fast paths of ingest give what the plain definitions give.

Place matching is checked against the straightforward algorithm it replaced (every key length
at every position, a DP over all positions, scores from the code table); the other shortcuts
against written-out results.
"""

from __future__ import annotations

import gc
import unicodedata
from importlib.resources import files

import pytest

from xunqin.ingest.read import read_table
from xunqin.ingest.tables import _join, normalize_reports, normalize_stations
from xunqin.normalizers import places
from xunqin.normalizers.dates import PartialDate, parse_date
from xunqin.normalizers.features import parse_features
from xunqin.normalizers.text import _WIDE_PUNCT, nfkc


def _plain_hits(text: str) -> list[tuple[int, int, str]]:
    table, lengths = places._variants()
    n = len(text)
    spans: list[list[tuple[int, str]]] = [[] for _ in range(n)]
    for i, ch in enumerate(text):
        for length in lengths.get(ch, ()):
            key = text[i : i + length]
            if len(key) != length or key not in table:
                continue
            if table[key][0][1] == places._SHORT and (
                text[i + length : i + length + 1] in places._STREET_AFTER
                or text[i + length : i + length + 2] in places._STREET_AFTER2
            ):
                continue
            spans[i].append((i + length, key))
    best = [(0, 0, 0)] * (n + 1)
    choice: list[tuple[int, str] | None] = [None] * (n + 1)
    for i in range(n - 1, -1, -1):
        best[i], choice[i] = best[i + 1], None
        for end, key in spans[i]:
            c, t, h = best[end]
            cand = (c + end - i, t + table[key][0][1], h - 1)
            if cand >= best[i]:
                best[i], choice[i] = cand, (end, key)
    hits, i = [], 0
    while i < n:
        if choice[i] is None:
            i += 1
        else:
            end, key = choice[i]
            hits.append((i, end, key))
            i = end
    return hits


def _contains(a: str, b: str) -> bool:
    """Division ``a`` contains (or is) ``b``, from the codes' form alone."""
    if a == b:
        return True
    if a[2:] == "0000":
        return b[:2] == a[:2]
    return a[4:] == "00" and b[:4] == a[:4]


def _plain_resolve(text: str, hits: list[tuple[int, int, str]]) -> tuple[str, ...]:
    table, _ = places._variants()
    entries = [table[key] for _, _, key in hits]

    def weak(idx: int) -> bool:
        return len(hits[idx][2]) == 2 and all(
            t == places._SHORT and places._level_of(c) == "county" for c, t in entries[idx])

    strong = [i for i in range(len(hits)) if not weak(i)]
    kept = [entries[i] for i in strong]
    for i in range(len(hits)):
        if i in strong:
            continue
        supported = tuple((c, t) for c, t in entries[i]
                          if any(_contains(a, c) and a != c for j in strong for a, _ in entries[j]))
        if supported:
            kept.append(supported)
        elif not strong and len(hits) == 1 and len(text) - len(hits[i][2]) <= 4:
            kept.append(entries[i])
    if not kept:
        return ()
    scores = {}
    for anchor in {c for e in kept for c, _ in e}:
        count = total = 0
        for e in kept:
            own = [places._quality(c, t) for c, t in e if c == anchor]
            q = own[0] if own else max(
                (places._quality(c, t) for c, t in e if _contains(c, anchor)), default=None)
            if q is not None:
                count, total = count + 1, total + q
        scores[anchor] = (count, total)
    top = max(scores.values())
    chosen = [c for c, s in scores.items() if s == top]
    chosen = [c for c in chosen if not any(o != c and _contains(c, o) for o in chosen)]
    return tuple(sorted(chosen))


PLACE_TEXTS = [
    "", "河", "河南", "河南省", "老家山东的", "吉林", "吉林省吉林市", "东北", "东北人", "陕西北部",
    "周口商水", "河南省周口市商水县城关乡王庄村", "湖南省怀化市沅陵县人民路亲戚家附近",
    "中山路", "新华街", "城关", "城关镇", "红旗", "商水", "老家商水的", "商水县城关",
    "内蒙古自治区", "内蒙", "延边朝鲜族自治州", "襄樊", "密云县", "乾县", "乾安县",
    "广东省深圳市南山区科技园", "北京市朝阳区", "上海浦东", "新疆乌鲁木齐", "西藏拉萨",
    "江浙", "西北", "河北河南", "山东山西", "吉林长春", "长春吉林", "海南", "海南藏族自治州",
    "铜陵市义安区红旗东路公园", "德州市禹城市公园路建筑工地", "甘肃省白银市平川区新集街道出租屋",
    "济源", "仙桃市", "五指山", "北京", "天津市和平区", "重庆万州", "abc", "410000", "不详",
    "湖南湖北", "广西南宁", "南宁广西", "黑龙江哈尔滨道里区", "安徽合肥巢湖", "巢湖",
    # cut after the county-level name: what follows it, names running across the cut
    "河南省周口市商水县中山路", "商水县大街", "商水县大道小区", "商水县城关镇", "商水县城区", "商水县商水",
    "广东省梅州市梅县区程江镇", "河南省新乡市辉县市城关街道", "河南省南阳市社旗县城郊乡", "红旗区红旗路",
    "伊春市红旗区", "重庆市万县市", "海淀区中关村大街", "北京市海淀区", "北京市海淀区北", "吉林省吉林市船营区大",
    "广东梅县大街", "广东梅县大学", "广东梅县路口", "广东梅县大", "河南辉县广场", "内蒙古锡林郭勒盟正蓝旗上都镇", "新疆维吾尔自治区乌鲁木齐市天山区", "县", "区区区", "商水县",
]


@pytest.mark.parametrize("raw", PLACE_TEXTS)
def test_place_matching_as_plain_algorithm(raw: str) -> None:
    text = places._clean(raw)
    hits = places._find_hits(text)
    assert hits == _plain_hits(text)
    assert places._resolve(text, hits) == _plain_resolve(text, hits)


@pytest.mark.parametrize(
    ("value", "joined"),
    [
        (None, None),
        ("", None),
        ("a", "a"),
        ((), None),
        (("a",), "a"),
        (("",), None),
        (("a", "b", "a"), "a|b"),
        (("a", "", "b"), "a|b"),
        (("a", None, "b"), "a|b"),
        ([1, "a", 1], "1|a"),
        (["b", "a"], "b|a"),
        (frozenset({"b", "a"}), "a|b"),
        ({"b", "", "a"}, "a|b"),
        (frozenset({None}), None),
        (frozenset({2, 1}), "1|2"),
        ((x for x in ("b", "a", "b")), "b|a"),
    ],
)
def test_join(value, joined) -> None:
    assert _join(value) == joined


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2023-05-01", PartialDate(2023, 5, 1)),
        ("2023/5/1", PartialDate(2023, 5, 1)),
        ("2023.05.01", PartialDate(2023, 5, 1)),
        ("2023年5月1日", PartialDate(2023, 5, 1)),
        ("2023年5月1号", PartialDate(2023, 5, 1)),
        ("2023-05-01\n", PartialDate(2023, 5, 1)),
        (" 2023-05-01 ", PartialDate(2023, 5, 1)),
        ("２０２３-05-01", PartialDate(2023, 5, 1)),
        ("2023-05-01 12:30", PartialDate(2023, 5, 1)),
        ("约2023年5月1日", PartialDate(2023, 5, 1)),
        ("2023-02-30", ValueError),
        ("1850-01-01", ValueError),
        ("2023.0.0", ValueError),
        ("20230501", PartialDate(2023, 5, 1)),
        ("2023-05", PartialDate(2023, 5)),
    ],
)
def test_dates_plain_forms(raw: str, expected) -> None:
    if expected is ValueError:
        with pytest.raises(ValueError):
            parse_date(raw)
    else:
        assert parse_date(raw) == expected


@pytest.mark.parametrize(
    ("text", "marks", "conditions"),
    [
        # the same clause in different texts reads the same (clauses are cached one by one)
        ("左眉有疤", {"疤::", "疤:眉:", "疤:眉:左"}, set()),
        ("聋，左眉有疤", {"疤::", "疤:眉:", "疤:眉:左"}, {"聋"}),
        ("聋，哑", set(), {"聋", "哑", "聋哑"}),
        ("无明显疤痕，左眉有疤", {"疤::", "疤:眉:", "疤:眉:左"}, set()),
    ],
)
def test_features_by_clause(text: str, marks: set[str], conditions: set[str]) -> None:
    got = parse_features(text)
    assert set(got.marks) == marks
    assert set(got.conditions) == conditions


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize(("normalize", "sample", "kind"), [
    (normalize_stations, "stations.csv", "stations"),
    (normalize_reports, "reports.csv", "reports"),
])
def test_normalizing_restores_the_collector(enabled: bool, normalize, sample: str, kind: str) -> None:
    raw = read_table(str(files("xunqin.data") / "sample" / sample), kind)
    wrong = read_table(str(files("xunqin.data") / "sample" / ("reports.csv" if kind == "stations" else "stations.csv")),
                       "reports" if kind == "stations" else "stations")
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        normalize(raw)
        assert gc.isenabled() is enabled
        with pytest.raises(ValueError):
            normalize(wrong)  # wrong kind: raises inside
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_wide_punctuation_swaps_are_their_decompositions() -> None:
    for wide, narrow in _WIDE_PUNCT:
        assert unicodedata.normalize("NFKD", wide) == narrow


@pytest.mark.parametrize(
    "text",
    ["", "abc", "王秀英", "左眉有疤，右手缺指", "（自称）王某", "ｅ\u0301，", "e，\u0301", "，\u0301", "Ａ，Ｂ",
     "\u3000王\u3000", "ﬁ：", "①，", "e\u0301", "ｶﾞ，", "한，글", "臺灣省，", "\u2e81，"],
)
def test_nfkc(text: str) -> None:
    assert nfkc(text) == unicodedata.normalize("NFKC", text)
