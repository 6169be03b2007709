"""Evidence for each ranked candidate: per comparison, the level reached and its weight in bits.

The columns make a waterfall: ``prior_weight`` plus every ``<comparison>_weight`` adds up to
``score``; ``evidence`` says the same in one line of codes (``name=folded(+9.5)``) and ``依据`` in
Chinese for station staff (``姓名：方言近音（+9.5）；…``), from the tables below (the review
workstation shows the same words).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .model import Model


# Comparison and level names in Chinese (a level not listed shows its code).
COMPARISON_TEXT: dict[str, str] = {
    "name": "姓名", "gender": "性别", "age": "年龄", "dates": "时间", "hometown": "籍贯",
    "dialect": "口音", "found_place": "地点", "height": "身高", "id_number": "身份证",
    "marks": "体貌特征", "conditions": "病症",
}
LEVEL_TEXT: dict[str, dict[str, str]] = {
    "name": {"nickname_exact": "小名相同", "exact": "姓名相同", "pinyin": "同音", "folded": "方言近音", "given": "名字相同", "partial": "姓名缺一字",
             "nickname_last": "小名合名字末字", "nickname_core": "小名相合", "surname": "同姓", "similar": "拼音相近", "else": "不同"},
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
CHINESE_EVIDENCE = "依据"


def evidence_frame(model: Model, levels: np.ndarray, weights: np.ndarray) -> pd.DataFrame:
    """Per candidate (a row of ``levels`` and ``weights``, a column per comparison): each
    comparison's level and weight, and the evidence lines in codes and in Chinese.

    A comparison's text depends only on its level and its weight, and a list of 100,000
    candidates holds a few thousand such pairs: each is written once (numpy's string functions
    on every row took 3.4 s at M, this 0.4 s)."""
    columns: dict[str, np.ndarray] = {}
    evidence = np.full(len(levels), "", dtype=object)
    chinese = np.full(len(levels), "", dtype=object)
    for c, comparison in enumerate(model.settings.comparisons):
        labels = np.asarray(comparison.labels, dtype=object)
        w = np.round(weights[:, c].astype(float), 2)
        columns[f"{comparison.name}_level"] = labels[levels[:, c]]
        columns[f"{comparison.name}_weight"] = w
        # (level, weight) pairs, the weight by its bits (-0.0 is written "-0.0")
        level_codes = levels[:, c].astype(np.int64)
        weight_codes, weight_bits = pd.factorize(w.view(np.int64))
        span = max(len(weight_bits), 1)
        pair_codes, pairs = pd.factorize(level_codes * span + weight_codes)
        pair_levels, pair_weights = pairs // span, weight_bits[pairs % span].view(np.float64)
        names = LEVEL_TEXT.get(comparison.name, {})
        title = COMPARISON_TEXT.get(comparison.name, comparison.name)
        text, text_zh = [], []
        for level, weight in zip(pair_levels.tolist(), pair_weights.tolist()):
            label = str(comparison.labels[level])
            shown = "%+.1f" % weight
            null = label == "null"
            text.append("" if null else f"{comparison.name}={label}({shown}) ")
            text_zh.append("" if null else f"{title}：{names.get(label, label)}（{shown}）；")
        evidence += np.asarray(text, dtype=object)[pair_codes]
        chinese += np.asarray(text_zh, dtype=object)[pair_codes]
    frame = pd.DataFrame(columns)
    frame.insert(0, "prior_weight", round(model.prior_weight, 2))
    if model.settings.comparisons:
        frame["evidence"] = [t[:-1] for t in evidence.tolist()]  # without the last separator
        frame[CHINESE_EVIDENCE] = [t[:-1] for t in chinese.tolist()]
    return frame
