"""Fold dialect confusions out of pinyin so a name heard through an accent meets its
registered form (刘/牛, 黄/方, 张/臧, 林/凌 ...).

Rules, applied to one toneless syllable (pypinyin NORMAL style, ü as v):

Initials
  * zh -> z, ch -> c, sh -> s       (flat/retroflex merger: 张 zhang ~ 臧 zang)
  * n  -> l                         (n/l merger: 牛 niu ~ 刘 liu)
  * r  -> l                         (r/l: 荣 rong ~ 龙 long). r/y (东北 人 yin) is NOT
    folded: y-syllables are so common that folding them would merge unrelated names.
  * hu + final -> f + final         (h/f merger, both directions: 湖南 "funan", 福建
    "hujian"). Rule: the medial u of hu- is absorbed into f, and the final is spelled
    as after f: hu->fu, hua->fa, huai->fai, huan->fan, huang->fang, hui->fei,
    hun->fen, huo->fo. Plain h + non-u (he, hao, hong) is left alone.
Finals (after the initial rules)
  * -ang -> -an, -eng -> -en, -ing -> -in; this also gives iang->ian and uang->uan.
    -ong is kept (it has no -on partner).
Not folded: tones (already gone), r/y, j-q-x vs z-c-s, b/p, d/t, g/k, ü/u/i, ong/eng.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["fold_syllable", "fold_key"]

_RETROFLEX = (("zh", "z"), ("ch", "c"), ("sh", "s"))
_HU_TO_F = {
    "hu": "fu",
    "hua": "fa",
    "huai": "fai",
    "huan": "fan",
    "huang": "fang",
    "hui": "fei",
    "hun": "fen",
    "huo": "fo",
}


@lru_cache(maxsize=1 << 12)
def fold_syllable(s: str | None) -> str:
    """Fold one toneless pinyin syllable; '' for empty input; lowercased, ü -> v."""
    if not s:
        return ""
    syl = s.strip().lower().replace("ü", "v").replace("u:", "v")
    if not syl:
        return ""
    for src, dst in _RETROFLEX:
        if syl.startswith(src):
            syl = dst + syl[len(src):]
            break
    else:
        if syl in _HU_TO_F:
            syl = _HU_TO_F[syl]
        elif syl[0] in "nr" and len(syl) > 1:
            # n and r both fold to l; a bare 'n' (嗯) stays as is.
            syl = "l" + syl[1:]
    if syl.endswith(("ang", "eng", "ing")):
        syl = syl[:-1]
    return syl


@lru_cache(maxsize=1 << 17)
def fold_key(key: str | None) -> str:
    """Fold every syllable of a space-separated pinyin key; result joined by one space."""
    if not key:
        return ""
    return " ".join(f for f in (fold_syllable(p) for p in key.split()) if f)
