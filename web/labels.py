"""Chinese labels for what the screens and the export show (comparisons, levels, fields)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

# China has one time zone and no daylight saving: a fixed offset needs no tz database.
CST = dt.timezone(dt.timedelta(hours=8), "CST")

COMPARISONS: dict[str, str] = {
    "name": "姓名", "gender": "性别", "age": "年龄", "dates": "时间", "hometown": "籍贯",
    "dialect": "口音", "found_place": "地点", "height": "身高", "id_number": "身份证",
    "marks": "体貌特征", "conditions": "病症",
}
LEVELS: dict[str, dict[str, str]] = {
    "name": {"exact": "姓名相同", "pinyin": "同音", "folded": "方言近音", "given": "名字相同",
             "nickname_core": "小名相合", "surname": "同姓", "similar": "拼音相近", "else": "不同"},
    "gender": {"same": "相同", "else": "不同"},
    "age": {"within": "相符", "close": "接近（±2岁）", "near": "大致（±5岁）", "else": "不符"},
    "dates": {"found_before_missing": "救助早于走失", "days_30": "走失30天内被救助", "days_365": "一年内",
              "years_5": "五年内", "else": "五年以上"},
    "hometown": {"county": "同县", "prefecture": "同市", "province": "同省", "else": "不同"},
    "dialect": {"province": "口音与户籍省相符", "else": "口音与户籍省不符"},
    "found_place": {"km_30": "相距30公里内", "km_150": "150公里内", "km_500": "500公里内", "else": "500公里以外"},
    "height": {"cm_3": "相差3厘米内", "cm_7": "相差7厘米内", "else": "相差较大"},
    "id_number": {"same": "号码相同", "tail": "尾号相同", "different": "号码不同", "else": "不符"},
    "marks": {"same_side": "部位与左右相同", "same_part": "部位相同", "same_kind": "类型相同", "else": "不同"},
    "conditions": {"shared": "有共同病症", "else": "不同"},
}
MISSING_LEVEL = "null"
DECISION_CHOICES = ("疑似", "待定", "排除")  # what reviewers pick on the person page
DECISION_HELP = {"疑似": "送公安核查", "待定": "不确定，稍后再看", "排除": "不是此人"}
AGE_BANDS = ("0-17", "18-39", "40-59", "60-79", "80+", "未知")
STATUSES = ("未审", "待定", "疑似")
GENDERS = ("男", "女")


def comparison_names(evidence: dict[str, Any]) -> list[str]:
    """Comparisons present in a candidate's evidence, in the matcher's order (known ones first)."""
    present = [k[: -len("_weight")] for k in evidence if k.endswith("_weight") and k != "prior_weight"]
    known = [c for c in COMPARISONS if c in present]
    return known + [c for c in present if c not in COMPARISONS]


def level_label(comparison: str, level: Any) -> str:
    if level is None or level == MISSING_LEVEL:
        return "缺少信息"
    return LEVELS.get(comparison, {}).get(str(level), str(level))


def number(value: Any) -> float:
    """A stored weight as float (None/NaN/text -> 0.0)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return 0.0
    return f if math.isfinite(f) else 0.0


def evidence_summary(evidence: dict[str, Any]) -> str:
    """One line in Chinese: each comparison with information, its level and weight in bits."""
    parts = []
    for comp in comparison_names(evidence):
        level = evidence.get(f"{comp}_level")
        if level is None or level == MISSING_LEVEL:
            continue
        w = number(evidence.get(f"{comp}_weight"))
        parts.append(f"{COMPARISONS.get(comp, comp)}：{level_label(comp, level)}（{w:+.1f}）")
    return "；".join(parts)


def age_band(age_low: Any, age_high: Any) -> str:
    """Band of the middle of the station's age estimate."""
    try:
        lo, hi = float(age_low), float(age_high)
    except (TypeError, ValueError):
        return "未知"
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo < 0 or hi > 130 or (lo == 0 and hi == 0):
        return "未知"
    mid = (lo + hi) / 2
    if mid < 18:
        return "0-17"
    if mid < 40:
        return "18-39"
    if mid < 60:
        return "40-59"
    if mid < 80:
        return "60-79"
    return "80+"


def local_time(t: dt.datetime | None) -> str:
    """A stored (UTC) time as Beijing time text."""
    if t is None:
        return ""
    if t.tzinfo is None:  # SQLite gives naive UTC back
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(CST).strftime("%Y-%m-%d %H:%M")
