"""Chinese labels for what the screens and the export show (comparisons, levels, fields)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from xunqin.matching.explain import COMPARISON_TEXT, LEVEL_TEXT

# China has one time zone and no daylight saving: a fixed offset needs no tz database.
CST = dt.timezone(dt.timedelta(hours=8), "CST")

# The matcher's Chinese names for comparisons and levels (also its candidates CSV's 依据 column).
COMPARISONS: dict[str, str] = COMPARISON_TEXT
LEVELS: dict[str, dict[str, str]] = LEVEL_TEXT
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
