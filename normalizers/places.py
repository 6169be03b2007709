"""Place names -> GB/T 2260 divisions (province / prefecture / county).

Reads hometowns and addresses as people write them: a province alone (河南, 老家山东的), a short
city or county name (周口, 商水), a full address (河南省周口市商水县城关乡王庄村), an address with a
level missing (周口商水), an old name (襄樊), traditional or full-width characters.

Division fields ``province`` and ``prefecture`` hold 6-digit *codes* (not names), so they compare
directly with :func:`xunqin.normalizers.dialects.dialect_provinces`. ``prefecture`` is ``None`` for
provinces, for districts of the four municipalities and for 省直辖县 (济源, 仙桃, 五指山 ...).

Regional names (东北, 西北, 江浙 ... from ``data/place_regions.csv``) yield their provinces as
several province-level candidates: 东北 -> 辽宁, 吉林, 黑龙江.
"""

from __future__ import annotations

import csv
import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files

import numpy as np
import pandas as pd

from .text import nfkc, simplify_test, to_simplified

__all__ = [
    "Division",
    "Place",
    "UnknownDivision",
    "parse_place",
    "place_parser",
    "division",
    "divisions",
    "haversine_km",
]

LEVELS = ("province", "prefecture", "county")
_DEPTH = {lvl: i for i, lvl in enumerate(LEVELS)}

# Placeholder rows of the code table that are not real divisions.
_PLACEHOLDER_NAMES = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})
# Real divisions whose names are everyday words: never looked up by name.
_GENERIC_NAMES = frozenset({"城区", "郊区", "矿区", "市辖区"})
_UNKNOWN = frozenset(
    {"不详", "未知", "不知道", "不清楚", "待查", "无", "空", "其他", "null", "none", "nan", "na",
     "n/a", "-", "--", "?", "??", "？"}
)
# Longer text is cut: no real address is this long, and it bounds the work per value.
MAX_CHARS = 200

_PROVINCE_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")
_PREFECTURE_SUFFIXES = ("地区", "盟", "市")
_COUNTY_SUFFIXES = ("林区", "新区", "特区", "区", "县", "市", "旗")
_AUTONOMOUS = ("自治州", "自治县", "自治旗")
# The 55 minority nationalities, longest first so 蒙古族 wins over 古族-like cuts.
_ETHNIC = tuple(sorted(
    "蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水 "
    "东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 "
    "俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺".split(),
    key=len, reverse=True))

# Tiers of a name variant: the official name, an old name from division_renames.csv, a suffix
# drift (周口地区, 密云县 for 密云区, 临安区 for 临安市), a bare short name (周口, 商水).
# Only the best tier of a key is kept.
_FULL, _ALIAS, _DRIFT, _SHORT = 4, 3, 2, 1
# A short name followed by one of these is a street or village name (中山路, 新华街, 城关乡).
_STREET_AFTER = frozenset("路街道巷弄胡村屯镇乡社号桥里")
_STREET_AFTER2 = frozenset({"大街", "大道", "大学", "小区", "广场"})
_AFTER_CHARS = _STREET_AFTER | {ch for pair in _STREET_AFTER2 for ch in pair}  # "\x00" is none
_NON_TEXT = re.compile(r"[\s\u3000,，。.;；:：、!！?？\"'“”‘’()（）\[\]【】<>《》/\\|_~`·•—-]+")
_DIGITS = re.compile(r"\d{6}(?:\d{6})?")


class UnknownDivision(KeyError, ValueError):
    """A code that is not in the division table (a KeyError and a ValueError)."""


@dataclass(frozen=True)
class Division:
    """One GB/T 2260 division; ``province``/``prefecture`` are 6-digit codes of its ancestors."""

    code: str
    name: str
    level: str
    province: str
    prefecture: str | None
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)  # slots: no dict per place (a million of them at M)
class Place:
    """A parsed place: the most specific level reached and every division it may denote."""

    raw: str
    level: str | None
    candidates: tuple[Division, ...]


def _data_rows(name: str) -> list[dict[str, str]]:
    """Rows of a data CSV, skipping leading ``#`` comment lines."""
    text = (files("xunqin.data") / name).read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return list(csv.DictReader(lines))


def _level_of(code: str) -> str:
    if code[2:] == "0000":
        return "province"
    if code[4:] == "00":
        return "prefecture"
    return "county"


@functools.cache
def _division_map() -> dict[str, Division]:
    raw: dict[str, tuple[str, float, float]] = {}
    for row in _data_rows("divisions.csv"):
        code = row["adcode"][:6]
        if row["name"] in _PLACEHOLDER_NAMES:
            continue
        lat = float(row["latitude"]) if row["latitude"] else math.nan
        lon = float(row["longitude"]) if row["longitude"] else math.nan
        raw[code] = (row["name"], lat, lon)
    out: dict[str, Division] = {}
    for code, (name, lat, lon) in raw.items():
        level = _level_of(code)
        if math.isnan(lat):
            # A few rows (定州, 辛集, 清江浦区 ...) lack coordinates: use the nearest ancestor's.
            for anc in (code[:4] + "00", code[:2] + "0000"):
                if anc in raw and not math.isnan(raw[anc][1]):
                    lat, lon = raw[anc][1], raw[anc][2]
                    break
        province = code[:2] + "0000"
        if level == "province":
            prefecture = None
        elif level == "prefecture":
            prefecture = code
        else:
            # Municipal districts and 省直辖县 have no real prefecture (placeholder rows dropped).
            parent = code[:4] + "00"
            prefecture = parent if parent in raw else None
        out[code] = Division(code, name, level, province, prefecture, lat, lon)
    return out


@functools.cache
def divisions() -> pd.DataFrame:
    """Cached table of real divisions: code, name, level, province, prefecture, lat, lon."""
    rows = sorted(_division_map().values(), key=lambda d: d.code)
    df = pd.DataFrame(
        {
            "code": [d.code for d in rows],
            "name": [d.name for d in rows],
            "level": pd.Categorical([d.level for d in rows], categories=list(LEVELS)),
            "province": [d.province for d in rows],
            "prefecture": [d.prefecture for d in rows],
            "lat": np.array([d.lat for d in rows], dtype=float),
            "lon": np.array([d.lon for d in rows], dtype=float),
        }
    )
    return df


def division(code: str) -> Division:
    """The division with this 6-digit (or 12-digit zero-padded) code; raises UnknownDivision."""
    key = str(code).strip()
    if len(key) == 12 and key.endswith("000000"):
        key = key[:6]
    try:
        return _division_map()[key]
    except KeyError:
        raise UnknownDivision("unknown division code") from None


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km; arguments broadcast like numpy arrays."""
    p1, p2 = np.radians(np.asarray(lat1, dtype=float)), np.radians(np.asarray(lat2, dtype=float))
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


# --------------------------------------------------------------------------- name variants


def _strip_autonomous(name: str) -> str | None:
    """延边朝鲜族自治州 -> 延边; 鄂温克族自治旗 -> 鄂温克; None if not autonomous."""
    for suf in _AUTONOMOUS:
        if name.endswith(suf):
            base = name[: -len(suf)]
            first_ethnic = None
            changed = True
            while changed:
                changed = False
                for eth in _ETHNIC:
                    if base.endswith(eth + "族") and len(base) > len(eth) + 1:
                        base, first_ethnic, changed = base[: -len(eth) - 1], eth, True
                        break
                    if base.endswith(eth + "族"):  # name is only nationalities: keep it
                        return eth
            return base if base else first_ethnic
    return None


def _short_names(name: str, level: str) -> list[str]:
    """Bare forms of an official name (周口市 -> 周口, 内蒙古自治区 -> 内蒙古, 内蒙)."""
    out: list[str] = []
    auto = _strip_autonomous(name)
    if auto:
        out.append(auto)
    suffixes = {"province": _PROVINCE_SUFFIXES, "prefecture": _PREFECTURE_SUFFIXES,
                "county": _COUNTY_SUFFIXES}[level]
    for suf in suffixes:
        if name.endswith(suf) and len(name) > len(suf):
            out.append(name[: -len(suf)])
            break
    if name == "内蒙古自治区":
        out.append("内蒙")
    return [s for s in out if len(s) >= 2 and s != name]


@functools.cache
def _variants() -> tuple[dict[str, tuple[tuple[str, int], ...]], dict[str, tuple[int, ...]]]:
    """name variant -> ((code, tier), ...) keeping the best tier; first char -> key lengths."""
    acc: dict[str, dict[str, int]] = {}

    def add(key: str, code: str, tier: int) -> None:
        if len(key) < 2 or key in _GENERIC_NAMES:
            return
        slot = acc.setdefault(key, {})
        slot[code] = max(slot.get(code, 0), tier)

    dmap = _division_map()
    for d in dmap.values():
        add(d.name, d.code, _FULL)
        for short in _short_names(d.name, d.level):
            add(short, d.code, _SHORT)
            # Suffix drift: 周口地区 for 周口市, 密云县 for 密云区 (撤县设区), 临安区 for 临安市.
            alts = ("地区", "市") if d.level == "prefecture" else ("县", "市", "区") if d.level == "county" else ()
            for suf in alts:
                add(short + suf, d.code, _DRIFT)
    for row in _data_rows("division_renames.csv"):
        code = row["new_code"].strip()
        if code not in dmap:
            continue
        old = row["old_name"].strip()
        add(old, code, _ALIAS)
        for short in _short_names(old, dmap[code].level) + _short_names(old, "county"):
            if short not in acc:  # a current name's bare form wins over an old one (巢湖)
                add(short, code, _SHORT)
    short_prov = {d.name: d.code for d in dmap.values() if d.level == "province"}
    for d in dmap.values():
        if d.level == "province":
            for s in _short_names(d.name, "province"):
                short_prov[s] = d.code
    for row in _data_rows("place_regions.csv"):
        for prov in row["provinces"].split("|"):
            add(row["name"].strip(), short_prov[prov.strip()], _SHORT)

    table: dict[str, tuple[tuple[str, int], ...]] = {}
    lengths: dict[str, set[int]] = {}
    for key, codes in acc.items():
        best = max(codes.values())
        table[key] = tuple(sorted((c, t) for c, t in codes.items() if t == best))
        lengths.setdefault(key[0], set()).add(len(key))
    return table, {ch: tuple(sorted(ls, reverse=True)) for ch, ls in lengths.items()}


def _clean_keep_punct(text: str) -> str:
    """Full-width -> half-width, traditional -> simplified, lower case."""
    text = nfkc(text)
    if text and max(text) > "\u2e80":  # some character above U+2E80 (CJK): max() runs in C
        text = to_simplified(text)  # keeps 乾 of 乾县 / 乾安县, which OpenCC alone makes 干
    return text.lower()


def _clean(text: str) -> str:
    """As :func:`_clean_keep_punct`, cut to MAX_CHARS, punctuation and spaces removed."""
    return _clean_keep_punct(_NON_TEXT.sub("", nfkc(text[: MAX_CHARS * 2]))[:MAX_CHARS])


# Joins a column's texts so that NFKC and the punctuation cut run once over all of them: NUL is
# left alone by NFKC, composes with no neighbour, is produced from nothing, and is not _NON_TEXT.
_SEPARATOR = "\x00"


def _clean_all(texts: list[str]) -> list[str]:
    """``[_clean(t) for t in texts]``, over many texts at once: 8.5 -> 4.1 µs a text on the
    hometowns of size M (most of the time went to calls per text, not to the work)."""
    cut = _NON_TEXT.sub("", nfkc(_SEPARATOR.join(t[: MAX_CHARS * 2] for t in texts))).split(_SEPARATOR)
    if len(cut) != len(texts):  # some text holds NUL itself (or there are none)
        return [_clean(t) for t in texts]
    return clean_keep_punct_all([p[:MAX_CHARS] for p in cut])


def clean_keep_punct_all(texts: list[str]) -> list[str]:
    """``[_clean_keep_punct(t) for t in texts]`` (see :func:`_clean_all`), for the features too."""
    joined = nfkc(_SEPARATOR.join(texts))
    pieces = joined.split(_SEPARATOR)
    if len(pieces) != len(texts):
        return [_clean_keep_punct(t) for t in texts]
    # as _clean_keep_punct, then the converter only where it may change something
    may_simplify = simplify_test(joined)
    return [(to_simplified(p) if p and max(p) > "\u2e80" and may_simplify(p) else p).lower() for p in pieces]


# --------------------------------------------------------------------------- matching


def _proper_ancestors(code: str) -> tuple[str, ...]:
    """The divisions containing ``code``, itself excluded: its prefecture and province forms
    (AABB00, AA0000), whether or not such a division exists."""
    return tuple(a for a in {code[:4] + "00", code[:2] + "0000"} if a != code)


def _quality(code: str, tier: int) -> int:
    # A bare name usually means the bigger unit: 吉林 -> 吉林省, 河南 -> 河南省 (not 河南县).
    bonus = 2 - _DEPTH[_level_of(code)] if tier == _SHORT else 0
    return tier * 10 + bonus


@functools.cache
def _ancestors() -> dict[str, tuple[str, ...]]:
    """code -> :func:`_proper_ancestors` for every division."""
    return {c: _proper_ancestors(c) for c in _division_map()}


@dataclass(frozen=True)
class _Key:
    """What resolving needs of one name variant, worked out once from :func:`_variants`."""

    quality: dict[str, int]  # code -> _quality(code, tier), in the table's order
    weak: bool  # a bare 2-char county name (城关, 新华, 红旗): a common word in addresses


@functools.cache
def _matcher() -> tuple[dict[str, _Key], dict[str, int], dict[str, tuple[int, ...]]]:
    """key -> _Key; key -> its (one, best) tier; first two characters -> lengths of the keys
    starting so, longest first.

    Keyed by two characters (every key has at least two), most positions of a text cost one
    look-up and only lengths that can match are sliced."""
    table, _ = _variants()
    keys: dict[str, _Key] = {}
    tiers: dict[str, int] = {}
    lengths: dict[str, set[int]] = {}
    for key, entries in table.items():
        keys[key] = _Key(
            quality={c: _quality(c, t) for c, t in entries},
            weak=len(key) == 2 and all(t == _SHORT and _level_of(c) == "county" for c, t in entries),
        )
        tiers[key] = entries[0][1]
        lengths.setdefault(key[:2], set()).add(len(key))
    return keys, tiers, {k: tuple(sorted(ls, reverse=True)) for k, ls in lengths.items()}


# A county-level name ends the part of an address that many addresses share (河南省周口市商水县);
# what follows (城关乡王庄村3组) is mostly each address's own.
_COUNTY_ENDS = ("县", "区", "旗")
_CUT_SEARCH = 20  # characters looked at for that end


def _find_hits(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping name matches covering as much of ``text`` as possible (DP over spans).

    An address is cut after its county-level name when no name runs across the cut: the best
    cover of the whole is then the best cover of the head followed by that of the rest (the
    DP's value adds up over the two), and the head's, which many addresses share, is cached.
    On the 978,124 distinct places of size M: 10.0 µs a place before, 7.0 µs so."""
    cut = _shared_head(text)
    if cut is None:
        return _hits_from(text, 0)
    # of what follows the head only what decides a street's name counts (中山|路): the rest
    # is blanked, so that the heads of a county's addresses are one cached value
    after = text[cut : cut + 2]
    first = after[0] if after[0] in _AFTER_CHARS else "\x00"
    second = after[1] if after in _STREET_AFTER2 else "\x00"
    return [*_head_hits(text[:cut] + first + second, cut), *_hits_from(text, cut)]


def _shared_head(text: str) -> int | None:
    """Where to cut ``text`` (after its first county-level name), or None: no such name, or a
    name of the table crossing the cut (whatever follows it: see :func:`_find_hits`)."""
    ends = [at for at in (text.find(ch, 2, _CUT_SEARCH) for ch in _COUNTY_ENDS) if at > 0]
    if not ends:
        return None
    cut = min(ends) + 1
    if cut >= len(text) - 1:
        return None
    if text[cut - 1 : cut + 1] not in _inner_pairs():
        return cut  # no name holds these two characters side by side: none runs across
    _, tiers, lengths = _matcher()
    for i in range(max(cut - _longest_key() + 1, 0), cut):
        for length in lengths.get(text[i : i + 2], ()):
            if i + length > cut and text[i : i + length] in tiers:
                return None
    return cut


@functools.cache
def _longest_key() -> int:
    return max(map(len, _matcher()[1]))


@functools.cache
def _inner_pairs() -> frozenset[str]:
    """Every two characters side by side in some name of the table."""
    return frozenset(key[k : k + 2] for key in _matcher()[1] for k in range(len(key) - 1))


@functools.lru_cache(maxsize=1 << 16)
def _head_hits(head: str, cut: int) -> tuple[tuple[int, int, str], ...]:
    """The hits of a text's first ``cut`` characters (a tuple: the cached value is shared);
    ``head`` holds two more, which decide whether a short name is a street's (中山路)."""
    return tuple(hit for hit in _hits_from(head, 0) if hit[0] < cut)


def _hits_from(text: str, first: int) -> list[tuple[int, int, str]]:
    """:func:`_find_hits` over the names starting at ``first`` or later."""
    _, tiers, lengths = _matcher()
    n = len(text)
    # A DP value (chars covered, tier sum, -hits) is packed into one int, c*B*B + t*B - hits,
    # which orders the same way: keys have 2+ characters, so hits <= n/2 and t <= 4*hits < B.
    base = 4 * n + 4
    base2 = base * base
    starts: list[int] = []
    spans: dict[int, list[tuple[int, str, int]]] = {}
    # the positions where a name may start, in one comprehension (most positions start none)
    for i in [i for i in range(first, n - 1) if text[i : i + 2] in lengths]:
        lens = lengths[text[i : i + 2]]
        found: list[tuple[int, str, int]] = []
        for length in lens:  # longest first, as the DP's tie rule expects
            end = i + length
            if end > n:
                continue
            key = text[i:end]
            tier = tiers.get(key)
            if tier is None:
                continue
            if tier == _SHORT and (text[end : end + 1] in _STREET_AFTER or text[end : end + 2] in _STREET_AFTER2):
                continue
            found.append((end, key, length * base2 + tier * base - 1))
        if found:
            starts.append(i)
            spans[i] = found
    if not starts:
        return []
    # Spans that do not overlap at all are all taken: each adds characters covered.
    last_end = -1
    for i in starts:
        found = spans[i]
        if len(found) > 1 or i < last_end:
            break
        last_end = found[0][0]
    else:
        return [(i, spans[i][0][0], spans[i][0][1]) for i in starts]
    # best[i] = the packed value over text[i:]; positions between two span starts share the
    # value of the next start, so only starts are worked out.
    best = [0] * (n + 1)
    choice: dict[int, tuple[int, str, int] | None] = {}
    nxt = n
    for i in reversed(starts):
        run = best[nxt]
        if nxt - i > 1:
            best[i + 1 : nxt] = [run] * (nxt - i - 1)
        cur, chosen = run, None
        for span in spans[i]:
            cand = best[span[0]] + span[2]
            if cand >= cur:  # on ties prefer the earlier match (陕西|北部, not 陕|西北)
                cur, chosen = cand, span
        best[i], choice[i] = cur, chosen
        nxt = i
    hits, pos = [], 0
    for i in starts:
        span = choice[i]
        if i < pos or span is None:
            continue
        hits.append((i, span[0], span[1]))
        pos = span[0]
    return hits


def _resolve(text: str, hits: list[tuple[int, int, str]]) -> tuple[str, ...]:
    """Codes of the most specific divisions consistent with the most hits."""
    # Only the matched names count, and the text's length when one name stands alone: the
    # same names recur in many addresses (one county's villages), so that is cached.
    alone = len(hits) == 1 and len(text) - len(hits[0][2]) <= 4
    return _resolve_keys(tuple(key for _, _, key in hits), alone)


@functools.lru_cache(maxsize=1 << 16)
def _resolve_keys(hit_keys: tuple[str, ...], alone: bool) -> tuple[str, ...]:
    """:func:`_resolve` for the names matched; ``alone``: one name with little else around it."""
    keys = _matcher()[0]
    ups = _ancestors()
    infos = [keys[key] for key in hit_keys]
    # Each kept hit as code -> quality; the divisions containing a code are ups[code].
    kept: list[dict[str, int]] = [k.quality for k in infos if not k.weak]
    if len(kept) < len(infos):
        strong_codes = {c for q in kept for c in q}
        any_strong = bool(kept)
        for k in infos:
            if not k.weak:
                continue
            supported = {c: q for c, q in k.quality.items() if not strong_codes.isdisjoint(ups[c])}
            if supported:
                kept.append(supported)
            elif not any_strong and alone:
                kept.append(k.quality)  # the name alone (商水, 老家商水的)
    if not kept:
        return ()
    scores: dict[str, tuple[int, int]] = {}
    for anchor in {c for q in kept for c in q}:
        around = ups[anchor]
        count = total = 0
        for q in kept:
            # A hit naming the anchor itself counts with that reading only (吉林 is the
            # province or the city, not both at once); else its best reading containing it.
            v = q.get(anchor)
            if v is None:
                for a in around:
                    w = q.get(a)
                    if w is not None and (v is None or w > v):
                        v = w
                if v is None:
                    continue
            count += 1
            total += v
        scores[anchor] = (count, total)
    top = max(scores.values())
    chosen = [c for c, s in scores.items() if s == top]
    inside = {a for c in chosen for a in ups[c]}
    return tuple(sorted(c for c in chosen if c not in inside))


def parse_place(raw: str | None) -> Place | None:
    """Parse a place text; None when empty, unknown or nothing is recognised.

    Raises ValueError only for a value that is not text (a list, a date ...); integers are
    read as codes and NaN as empty. Results are cached per string.
    """
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        raise ValueError("place is not text")
    return _parse_place(raw)


def place_parser(values: list[object]) -> Callable[[object], Place | None]:
    """:func:`parse_place` for ``values`` (a column's distinct values): the same results, with
    the texts cleaned together beforehand (:func:`_clean_all`) and no cache per value."""
    texts = [v for v in values if type(v) is str]
    cleaned = dict(zip(texts, _clean_all(texts)))

    def parse(raw: object) -> Place | None:
        text = cleaned.get(raw) if type(raw) is str else None
        return parse_place(raw) if text is None else _parse_text(raw, text)

    return parse


@functools.lru_cache(maxsize=1 << 18)
def _parse_place(raw: str) -> Place | None:
    return _parse_text(raw, _clean(raw))


def _parse_text(raw: str, text: str) -> Place | None:
    """The place ``raw`` names, ``text`` being ``_clean(raw)``."""
    if not text or text in _UNKNOWN:
        return None
    dmap = _division_map()
    if _DIGITS.fullmatch(text):
        code = text[:6] if len(text) == 6 or text.endswith("000000") else ""
        if code in dmap:
            d = dmap[code]
            return Place(raw, d.level, (d,))
        return None
    codes = _resolve(text, _find_hits(text))
    if not codes:
        return None
    level, cands = _level_and_divisions(codes)
    return Place(raw, level, cands)


@functools.lru_cache(maxsize=1 << 14)
def _level_and_divisions(codes: tuple[str, ...]) -> tuple[str, tuple[Division, ...]]:
    """The most specific level among ``codes`` and their divisions (the same codes recur)."""
    dmap = _division_map()
    cands = tuple(dmap[c] for c in codes)
    return max((d.level for d in cands), key=_DEPTH.__getitem__), cands
