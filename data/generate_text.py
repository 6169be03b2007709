"""Wording for the sample generator: marks, conditions, clothing, dates, ages, heights.

The family (reports) and station staff word the same fact differently (左眉毛处有疤痕 vs 左眉有疤);
both renderings come from the same (type, part, side, attribute) tuple.
"""
from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------- marks

MARK_TYPES = ("疤", "痣", "胎记", "纹身", "缺指")
SIDES = ("", "左", "右")
# Per mark type: (family word for the part, station word, sided?)
MARK_PARTS: tuple[tuple[tuple[str, str, bool], ...], ...] = (
    (("额头", "额头", False), ("眉毛", "眉", True), ("眼角", "眼角", True), ("脸颊", "脸", True),
     ("下巴", "下巴", False), ("头顶", "头部", False), ("后脑勺", "后脑", False), ("手背", "手背", True),
     ("手腕", "手腕", True), ("胳膊", "臂", True), ("膝盖", "膝", True), ("小腿", "小腿", True),
     ("肚子", "腹部", False), ("脖子", "颈部", False)),
    (("眉毛", "眉", True), ("眼角", "眼角", True), ("脸颊", "脸", True), ("嘴角", "嘴角", True),
     ("鼻子", "鼻", False), ("下巴", "下巴", False), ("脖子", "颈部", False), ("耳朵", "耳", True),
     ("眉心", "眉心", False)),
    (("脸颊", "脸", True), ("后背", "背部", False), ("胳膊", "臂", True), ("大腿", "腿", True),
     ("腰上", "腰部", False), ("脖子", "颈部", False), ("屁股", "臀部", False)),
    (("胳膊", "臂", True), ("手臂", "前臂", True), ("胸口", "胸前", False), ("后背", "背部", False),
     ("手背", "手背", True)),
    (("手", "手", True),),
)
MARK_TYPE_P = np.array([0.45, 0.25, 0.12, 0.1, 0.08])
BIRTHMARK_COLORS = ("青色", "红色", "褐色", "黑色")
TATTOO_CONTENT = ("龙", "老虎", "蝎子", "“忍”字", "“爱”字", "英文字母", "观音像", "鹰", "五角星")
FINGERS = (("大拇指", "拇指"), ("食指", "食指"), ("中指", "中指"), ("无名指", "无名指"), ("小拇指", "小指"))
N_ATTR = (1, 1, len(BIRTHMARK_COLORS), len(TATTOO_CONTENT), len(FINGERS))

FAMILY_MARK = (
    ("{s}{p}处有疤痕", "{s}{p}有一道疤", "{s}{p}上有伤疤"),
    ("{s}{p}有一颗黑痣", "{s}{p}处有痣", "{s}{p}长了颗痣"),
    ("{s}{p}有{a}胎记", "{s}{p}处有一块{a}胎记"),
    ("{s}{p}纹有{a}", "{s}{p}有{a}纹身"),
    ("{s}手{a}缺失", "{s}手缺{a}", "{s}手少一根{a}"),
)
STATION_MARK = (
    ("{s}{p}有疤", "{s}{p}疤痕", "{s}{p}有伤疤"),
    ("{s}{p}有痣", "{s}{p}黑痣"),
    ("{s}{p}胎记", "{s}{p}有胎记"),
    ("{s}{p}纹身", "{s}{p}有{a}纹身"),
    ("{s}手缺{a}", "{s}手{a}残缺"),
)


def draw_marks(rng: np.random.Generator, n: int, count_p: tuple[float, ...]) -> np.ndarray:
    """(n, k, 4) int array of marks: type, part, side, attribute; type -1 = no mark."""
    k = len(count_p) - 1
    counts = rng.choice(len(count_p), size=n, p=np.asarray(count_p))
    out = np.full((n, k, 4), -1, dtype=np.int16)
    for j in range(k):
        has = counts > j
        t = rng.choice(len(MARK_TYPES), size=n, p=MARK_TYPE_P)
        n_parts = np.array([len(p) for p in MARK_PARTS])[t]
        part = (rng.random(n) * n_parts).astype(int)
        sided = np.array([MARK_PARTS[a][b][2] for a, b in zip(t, part)]) if n else np.zeros(0, bool)
        side = np.where(sided, rng.integers(1, 3, n), 0)
        attr = (rng.random(n) * np.array(N_ATTR)[t]).astype(int)
        out[:, j, 0] = np.where(has, t, -1)
        out[:, j, 1] = part
        out[:, j, 2] = side
        out[:, j, 3] = attr
    return out


def family_mark(m, variant: int) -> str:
    t, part, side, attr = (int(x) for x in m)
    fam, _, _ = MARK_PARTS[t][part]
    a = ("", "", BIRTHMARK_COLORS, TATTOO_CONTENT, [f[0] for f in FINGERS])[t]
    tpl = FAMILY_MARK[t][variant % len(FAMILY_MARK[t])]
    return tpl.format(s=SIDES[side], p=fam, a=a[attr] if a else "")


def station_mark(m, variant: int) -> str:
    t, part, side, attr = (int(x) for x in m)
    _, st, _ = MARK_PARTS[t][part]
    a = ("", "", BIRTHMARK_COLORS, TATTOO_CONTENT, [f[1] for f in FINGERS])[t]
    tpl = STATION_MARK[t][variant % len(STATION_MARK[t])]
    return tpl.format(s=SIDES[side], p=st, a=a[attr] if a else "")


# ---------------------------------------------------------------- conditions and clothing

CONDITIONS = ("", "老年痴呆", "智力障碍", "精神障碍", "聋哑")
FAMILY_CONDITION = (
    ("",),
    ("患有老年痴呆", "有阿尔茨海默病", "记忆力差，有老年痴呆症状"),
    ("智力障碍", "智力低下", "脑子不太好使", "智力残疾"),
    ("精神障碍", "患有精神分裂症", "精神不太正常", "有精神病史"),
    ("聋哑", "不会说话，听不见", "聋哑人"),
)
STATION_CONDITION = (
    ("",),
    ("老年痴呆", "疑似老年痴呆", "认知障碍"),
    ("智力障碍", "智力低下", "疑似智障"),
    ("精神障碍", "精神异常", "疑似精神病"),
    ("聋哑", "聋哑人", "不能言语"),
)
COLORS = ("黑色", "蓝色", "灰色", "白色", "红色", "绿色", "军绿色", "黄色", "棕色", "紫色", "迷彩")
TOPS = ("上衣", "棉袄", "羽绒服", "夹克", "T恤", "毛衣", "外套", "衬衫")
BOTTOMS = ("裤子", "牛仔裤", "运动裤", "长裤", "短裤")
SHOES = ("布鞋", "运动鞋", "拖鞋", "皮鞋")


def clothing(rng: np.random.Generator, n: int, family: bool) -> list[str]:
    c1, c2 = rng.integers(0, len(COLORS), n), rng.integers(0, len(COLORS), n)
    t, b, s = rng.integers(0, len(TOPS), n), rng.integers(0, len(BOTTOMS), n), rng.integers(0, 5, n)
    lead = "走失时穿" if family else "身穿"
    return [
        f"{lead}{COLORS[x]}{TOPS[y]}、{COLORS[z]}{BOTTOMS[w]}" + ("，光脚" if v == 4 and not family
                                                               else f"、{SHOES[v]}" if v < 4 else "")
        for x, y, z, w, v in zip(c1, t, c2, b, s)
    ]


# ---------------------------------------------------------------- dates

DATE_FORMS = ("{y:04d}-{m:02d}-{d:02d}", "{y}/{m}/{d}", "{y}年{m}月{d}日", "{y:04d}{m:02d}{d:02d}",
              "{y:04d}.{m:02d}.{d:02d}")
DATE_FORM_P = np.array([0.4, 0.2, 0.2, 0.1, 0.1])
YEAR_FORMS = ("{y}", "{y}年")
YEAR_MONTH_FORMS = ("{y:04d}-{m:02d}", "{y}年{m}月", "{y:04d}.{m:02d}", "{y}/{m}")


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Days since 1970-01-01 -> year, month, day arrays."""
    dt = np.asarray(days, dtype="int64").astype("datetime64[D]")
    y = dt.astype("datetime64[Y]")
    mo = dt.astype("datetime64[M]")
    return (y.astype(int) + 1970, (mo - y.astype("datetime64[M]")).astype(int) + 1,
            (dt - mo.astype("datetime64[D]")).astype(int) + 1)


def format_dates(days: np.ndarray, form: np.ndarray) -> list[str]:
    y, m, d = ymd(days)
    return [DATE_FORMS[f].format(y=a, m=b, d=c) for a, b, c, f in zip(y.tolist(), m.tolist(), d.tolist(), form.tolist())]


# ---------------------------------------------------------------- ages and heights

CN_DIGITS = "零一二三四五六七八九"


def cn_tens(n: int) -> str:
    """60 -> 六十, 10 -> 十, 100 -> 一百."""
    t = n // 10
    if t >= 10:
        return "一百"
    return ("" if t == 1 else CN_DIGITS[t]) + "十"


AGE_FORMS = ("plain", "about", "around", "plus", "cn_lai", "cn_plus", "range", "unknown")


def age_text(est: int, form: str, lo_off: int) -> str:
    """Staff's written estimate of an age."""
    if form == "unknown":
        return "不详"
    if est < 10 and form in ("plus", "cn_lai", "cn_plus", "range"):
        form = "about"
    dec = est // 10 * 10
    if form == "plain":
        return str(est)
    if form == "about":
        return f"约{est}岁"
    if form == "around":
        return f"{est}岁左右"
    if form == "plus":
        return f"{dec}多岁"
    if form == "cn_lai":
        return f"{cn_tens(dec)}来岁"
    if form == "cn_plus":
        return f"{cn_tens(dec)}多岁"
    lo = max(1, est - lo_off)
    return f"{lo}-{lo + 5}岁"


# Median height (cm) by age 2..18 (rounded from Chinese child growth references).
_AGES = np.arange(2, 19)
_BOYS = np.array([88, 96, 104, 111, 117, 124, 130, 135, 140, 145, 151, 158, 164, 168, 170, 171, 170])
_GIRLS = np.array([87, 95, 103, 110, 116, 122, 128, 134, 140, 146, 151, 155, 157, 158, 158, 158, 158])


def height_cm(age: np.ndarray, male: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Height at ``age`` for sex and a person-fixed z-score: adults 170/158 (sd 6.5/6), children by
    growth table (sd 5), elderly shrinking 0.15 cm a year after 60."""
    age = np.asarray(age, dtype=float)
    child = np.where(male, np.interp(age, _AGES, _BOYS), np.interp(age, _AGES, _GIRLS)) + 5 * z
    adult = np.where(male, 170 + 6.5 * z, 158 + 6 * z) - 0.15 * np.clip(age - 60, 0, None)
    return np.round(np.where(age < 18, child, adult)).astype(int)


HEIGHT_FORMS = ("{h}", "{h}cm", "{h}厘米", "{m:.2f}米", "约{r:.1f}米")
HEIGHT_FORM_P = np.array([0.35, 0.25, 0.1, 0.15, 0.15])


def height_text(h: int, form: int) -> str:
    return HEIGHT_FORMS[form].format(h=h, m=h / 100, r=round(h / 100, 1))
