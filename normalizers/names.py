"""Parse a person's name as station staff or families wrote it.

``parse_name`` never raises: whatever was written becomes a :class:`ParsedName` whose
``kind`` says what it is. Heuristics (documented because they decide matches):

* Decorations are stripped first: bracketed text (王某(自称)), words such as 自称 / 疑似 /
  待核实, question marks, latin letters mixed into Han text, a stray digit (王1).
  If several names are given (``、 , ; /`` or a space), the first one is parsed; a space
  after a bare surname (``王 秀英``) or between single characters is joined instead.
* ``placeholder``: something written that is not a name: 无名氏, 未知, 待查, 不详, 无,
  某某, descriptions (老人, 哑巴, 小孩), staff codes (长救23-015, 2023-015号, 男1号, A001),
  latin-only text, or more than 6 Han characters.
* ``empty``: None, blank, or only punctuation / blank markers (-, --, ？？, N/A, null, nan).
* ``surname_only``: X某, X某某, X氏, 姓X, X+honorific (王先生, 李大爷), or one character
  that is a known surname and not common in given names (王, but 红 is given_only).
* ``nickname``: 小X / 阿X / 老X (X a strong surname -> surname X, core ''; otherwise core
  X, reduplication collapsed), XX (红红 -> 红), birth order 二娃 / 三妹 / 老三 / 大丫 (core
  = the whole nickname: the ordinal is the only information), X娃 / X仔 / X妹 / X丫 /
  X丫头 (core X).
* Surname split: compound surnames first (longest first; 乐正 / 宗政 only when two given
  characters follow), then a known single surname. Two characters whose first is a
  surname -> full, unless that character is mostly a given-name character (红梅, 国庆,
  海燕) and not among the 100 commonest surnames -> given_only. One or two characters
  with no surname-looking first character -> given_only (秀英, 建国). Three or four
  characters -> full, first character taken as surname even if rare (staff may have
  written a homophone). Four or more with no known surname, or dotted names (买买提·艾力),
  -> full with surname '' (transliterated minority names have no Han surname); a dotted
  name whose first part is a compound surname (爱新觉罗·溥仪) or one known single surname
  (王·秀英) is split there.
* ``core``: the personal part reduced for comparison: for nicknames as above; for full
  names the given name with 小/阿 prefix, reduplication and 娃/仔/妹 suffix reduced
  (王小红 -> 红); for given_only the given name.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files

from .phonetic import fold_key
from .pinyin import given_pinyin, name_pinyin, surname_pinyin
from .text import clean_text, han_only, to_simplified

__all__ = ["KINDS", "ParsedName", "parse_name", "split_aliases", "known_surnames", "name_variants"]

KINDS = ("full", "surname_only", "given_only", "nickname", "placeholder", "empty")

_MAX_INPUT = 64  # clip before regex work: a name field is never this long
_MAX_NAME = 20  # clip of the Han text analysed
_MAX_NAME_HAN = 6  # longer Han text is a sentence, not a name

# Blank markers from spreadsheets/software: mean "nothing written".
_BLANK = frozenset({"n/a", "na", "nan", "none", "null", "nil", "#n/a", "undefined"})

# Written on purpose to say "no name known" (compared after removing spaces).
_PLACEHOLDER_WORDS = frozenset(
    """无名氏 无名 无名者 无名人 无名人员 无名男 无名女 无名男子 无名女子 无名男性 无名女性
    无名男孩 无名女孩 无名老人 无名流浪人员 未知 未知姓名 姓名未知 名字未知 待查 待查询 待核实
    待核查 待确认 待定 不详 不祥 姓名不详 名字不详 无 没有 某 某某 某某某 佚名 匿名 未名 无姓名
    不知 不知道 不清楚 不明 查无 暂无 空 空白 未填 未登记 未记录 不能说 说不清 说不出 无法交流
    无法沟通 无法询问 男 女 男性 女性 男子 女子 流浪人员 流浪汉 流浪者 流浪儿童 受助人员 受助人
    救助对象 求助人员 求助人""".split()
)
# Descriptions of the person, not names.
_GENERIC_WORDS = frozenset(
    """老人 老头 老头儿 老太 老太太 老太婆 老汉 老年人 老大爷 老大娘 老奶奶 老爷爷 大爷 大妈
    大娘 大叔 大婶 大姐 大哥 阿姨 阿婆 阿公 阿伯 奶奶 爷爷 婆婆 小孩 小孩儿 男孩 女孩 男童
    女童 小男孩 小女孩 小朋友 婴儿 弃婴 丫头 小丫头 哑巴 聋哑人 聋哑 傻子 疯子 憨子 精神病人
    病人 小伙 小伙子 姑娘 妇女 老乡 师傅 残疾人""".split()
)
_DECOR_PREFIXES = (
    "自称", "自述", "据称", "疑似", "可能是", "可能", "好像是", "好像", "名叫", "姓名", "名字",
    "化名", "暂定名", "暂名", "叫",
)
_DECOR_ANYWHERE = ("自称", "疑似", "待核实", "待确认", "待核查", "待查询", "同音")
_DECOR_SUFFIXES = ("待查", "不确定")
# First / last characters of the above: text starting and ending otherwise has none of them.
_DECOR_FIRST = frozenset(p[0] for p in _DECOR_PREFIXES)
_DECOR_LAST = frozenset(p[-1] for p in _DECOR_SUFFIXES)
_HONORIFICS = (
    "老太太", "先生", "女士", "小姐", "大爷", "大妈", "大娘", "大叔", "大婶", "大姐", "大哥",
    "阿姨", "老汉", "老头", "老太", "奶奶", "爷爷", "婆婆", "师傅", "伯伯", "叔叔", "老师",
    "同志", "伯", "叔", "婶", "嫂", "姐", "哥",
)
_HONORIFIC_LAST = frozenset(h[-1] for h in _HONORIFICS)
_ORDINALS = frozenset("二三四五六七八九十幺")
_BIG_NICK = frozenset("娃妹丫毛宝妞蛋崽仔伢姐哥弟儿胖小")  # 大 + these = birth-order nickname
_NICK_SUFFIX_2 = ("丫头", "娃子", "妹子", "伢子", "妹儿")
_NICK_SUFFIX_1 = frozenset("娃仔崽妹丫伢妞哥姐")
_WEAK_COMPOUNDS = frozenset({"乐正", "宗政"})  # 乐正华 is 乐 + 正华 far more often
_CODE_WORD_CHARS = frozenset("救站号编床室批组男女")
_CODE_RE = re.compile(r"\d{2,}|\d\s*[-_/.~·]\s*\d|\d\s*号|[a-z]\s*\d|\d\s*[a-z]", re.IGNORECASE)
_BRACKETED_RE = re.compile(r"[(\[{<《【〔「『][^)\]}>》】〕」』]*[)\]}>》】〕」』]")
_OPEN_BRACKET_RE = re.compile(r"[(\[{<《【〔「『].*$")
_SEP_RE = re.compile(r"[、,;/|\\]+")
_DOTS_RE = re.compile(r"\s*[·•・‧∙⋅.]\s*")
_DIGIT_RE = re.compile(r"\d")


@dataclass(frozen=True)
class ParsedName:
    """Result of :func:`parse_name`. Pinyin fields are keys as in normalizers.pinyin."""

    raw: str | None
    clean: str
    kind: str
    surname: str
    given: str
    core: str
    pinyin: tuple[str, ...]
    folded: tuple[str, ...]
    surname_pinyin: tuple[str, ...]
    given_pinyin: tuple[str, ...]
    given_folded: tuple[str, ...]
    core_pinyin: tuple[str, ...]


@dataclass(frozen=True)
class SurnameInfo:
    """One row of data/surnames.csv."""

    top100: bool
    given_common: bool


@cache
def known_surnames() -> tuple[dict[str, SurnameInfo], tuple[str, ...]]:
    """(single-character surnames, compound surnames longest first) from data/surnames.csv."""
    singles: dict[str, SurnameInfo] = {}
    compounds: list[str] = []
    with (files("xunqin.data") / "surnames.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            s = row["surname"].strip()
            if len(s) == 1:
                singles[s] = SurnameInfo(row["top100"] == "1", row["given_common"] == "1")
            elif s:
                compounds.append(s)
    compounds.sort(key=len, reverse=True)
    return singles, tuple(compounds)


@cache
def _compounds_by_first() -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
    """Compound surnames by first character (longest first, as in known_surnames), and as a set:
    a name is tried only against the compounds that can start it."""
    _, compounds = known_surnames()
    by_first: dict[str, list[str]] = {}
    for c in compounds:
        by_first.setdefault(c[0], []).append(c)
    return {ch: tuple(cs) for ch, cs in by_first.items()}, frozenset(compounds)


@cache
def name_variants() -> tuple[dict[str, str], dict[str, str]]:
    """(map for any position, map for the surname only) from data/name_variants.csv."""
    anywhere: dict[str, str] = {}
    surname: dict[str, str] = {}
    with (files("xunqin.data") / "name_variants.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            (surname if row["scope"].strip() == "surname" else anywhere)[row["from"]] = row["to"]
    return anywhere, surname


def _map_any(s: str) -> str:
    table = name_variants()[0]
    return s if table.keys().isdisjoint(s) else "".join(table.get(c, c) for c in s)


def _map_surname(s: str) -> str:
    return name_variants()[1].get(s, s) if len(s) == 1 else s


def _is_strong_surname(s: str) -> bool:
    """A surname that, after 小/阿/老 or alone, is read as a surname, not a given name."""
    if len(s) > 1:
        return s in _compounds_by_first()[1]
    info = known_surnames()[0].get(s)
    return info is not None and info.top100 and not info.given_common


def _is_surname(s: str) -> bool:
    return s in known_surnames()[0] if len(s) == 1 else s in _compounds_by_first()[1]


def _reduce_core(given: str) -> str:
    """Reduce a given name / nickname stem to the part two spellings share."""
    g = given
    if len(g) >= 2 and g[0] in "小阿":
        g = g[1:]
    for suf in _NICK_SUFFIX_2:
        if len(g) > len(suf) and g.endswith(suf):
            g = g[: -len(suf)]
            break
    else:
        if len(g) == 2 and g[1] in _NICK_SUFFIX_1 and g[0] not in _ORDINALS and g[0] != "大":
            g = g[0]
    if len(g) == 2 and g[0] == g[1]:
        g = g[0]
    return g


def _strip_decorations(s: str) -> str:
    s = _BRACKETED_RE.sub(" ", s)
    s = _OPEN_BRACKET_RE.sub("", s)
    for word in _DECOR_ANYWHERE:
        s = s.replace(word, " ")
    s = s.strip(" :：-_")
    changed = s[:1] in _DECOR_FIRST or s[-1:] in _DECOR_LAST
    while changed:
        changed = False
        for p in _DECOR_PREFIXES:
            if s.startswith(p) and len(s) > len(p):
                s = s[len(p):].lstrip(" :：")
                changed = True
        for suf in _DECOR_SUFFIXES:
            if s.endswith(suf) and len(s) > len(suf):
                s = s[: -len(suf)].rstrip()
                changed = True
    return s.strip()


def _first_name_segment(s: str) -> str:
    """Pick the first of several names; join a name split by spaces (王 秀英)."""
    if " " not in s and _SEP_RE.search(s) is None:
        return s.strip()  # one name, no space: what the steps below come to
    parts = [p.strip() for p in _SEP_RE.split(s) if p.strip()]
    if not parts:
        return ""
    seg = parts[0]
    words = seg.split(" ")
    if len(words) == 1:
        return seg
    hw = [han_only(w) for w in words]
    if _is_surname(hw[0]) or all(len(w) <= 1 for w in hw):
        return "".join(words)
    return words[0]


def _placeholder(raw: str | None, clean: str) -> ParsedName:
    return ParsedName(raw, clean, "placeholder", "", "", "", (), (), (), (), (), ())


def _empty(raw: str | None) -> ParsedName:
    return ParsedName(raw, "", "empty", "", "", "", (), (), (), (), (), ())


def _build(raw: str | None, clean: str, kind: str, surname: str, given: str, core: str) -> ParsedName:
    full = name_pinyin(surname, given)
    gp = given_pinyin(given)
    return ParsedName(
        raw=raw,
        clean=clean,
        kind=kind,
        surname=surname,
        given=given,
        core=core,
        pinyin=full,
        folded=_fold_all(full),
        surname_pinyin=surname_pinyin(surname),
        given_pinyin=gp,
        given_folded=_fold_all(gp),
        core_pinyin=given_pinyin(core),
    )


def _fold_all(keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(fold_key(k) for k in keys))


def _surname_only_form(t: str) -> str | None:
    """Surname of X某 / X某某 / X氏 / 姓X / X先生 / 李大爷 forms, else None."""
    compounds = _compounds_by_first()[1]
    if t.startswith("姓") and 2 <= len(t) <= 3 and "某" not in t:
        rest = t[1:]
        if len(rest) == 1 or rest in compounds:
            return rest
    stem = t.rstrip("某")
    if stem != t and stem and len(t) - len(stem) <= 3:
        # X某: X is a surname by construction, even a rare one.
        if len(stem) == 1 or stem in compounds:
            return stem
        return None
    for suf in ("某人", "氏", "姓"):
        if t.endswith(suf) and _is_surname(t[: -len(suf)]):
            return t[: -len(suf)]
    for h in _HONORIFICS if t[-1:] in _HONORIFIC_LAST else ():
        if t.endswith(h) and len(t) > len(h):
            stem = t[: -len(h)]
            if _is_surname(stem):
                singles, _ = known_surnames()
                info = singles.get(stem)
                if len(h) == 1 and info is not None and info.given_common:
                    return None  # 红姐, 明哥: a given name with a kinship term
                return stem
    return None


def _nickname(t: str) -> tuple[str, str] | None:
    """(surname, core) when t is a nickname without a registered surname, else None."""
    n = len(t)
    if n == 2 and t[0] == "老":
        x = t[1]
        if x in _ORDINALS or x in "大小":
            return "", t
        if _is_surname(x):
            return x, ""
        return "", t
    if n >= 3 and t[0] == "老" and t[1:] in _compounds_by_first()[1]:
        return t[1:], ""
    if t[0] in "小阿" and 2 <= n <= 3:
        rest = t[1:]
        if _is_strong_surname(rest):
            return rest, ""
        return "", _reduce_core(rest) if n == 3 else rest
    if n == 2 and t[0] == t[1]:
        return "", t[0]
    if n == 2 and (t[0] in _ORDINALS or (t[0] == "大" and t[1] in _BIG_NICK)):
        return "", t
    for suf in _NICK_SUFFIX_2:
        if n == 3 and t.endswith(suf):
            stem = t[0]
            break
    else:
        stem = t[0] if n == 2 and t[1] in _NICK_SUFFIX_1 else ""
    if stem:
        if stem in _ORDINALS or stem == "大":
            return "", t if n == 2 else t[0] + t[1]
        if _is_strong_surname(stem):
            return stem, ""
        return "", stem
    return None


def _split(t: str) -> tuple[str, str, str]:
    """(kind, surname, given) for plain Han text of 1..6 characters."""
    singles = known_surnames()[0]
    n = len(t)
    for c in _compounds_by_first()[0].get(t[0], ()):
        if t.startswith(c):
            if n == len(c):
                return "surname_only", c, ""
            if c in _WEAK_COMPOUNDS and n - len(c) < 2:
                continue
            return "full", c, t[len(c):]
    info = singles.get(t[0])
    if n == 1:
        if info is not None and not info.given_common:
            return "surname_only", t, ""
        return "given_only", "", t
    if n == 2:
        if info is not None and (not info.given_common or info.top100):
            return "full", t[0], t[1]
        return "given_only", "", t
    if n == 3 or (n == 4 and info is not None):
        return "full", t[0], t[1:]
    return "full", "", t


@lru_cache(maxsize=1 << 18)
def parse_name(raw: str | None) -> ParsedName:
    """Parse one written name; never raises. See the module docstring for the rules."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return _empty(raw)
    s = to_simplified(clean_text(str(raw))[:_MAX_INPUT])
    if not s or s.lower() in _BLANK or not any(c.isalnum() for c in s):
        return _empty(raw)
    placeholder_clean = s[:_MAX_NAME]
    s = _map_any(s)
    if s.replace(" ", "") in _PLACEHOLDER_WORDS:
        return _placeholder(raw, placeholder_clean)

    s = _DOTS_RE.sub("·", _strip_decorations(s))
    seg = _first_name_segment(s)
    if not seg:
        return _placeholder(raw, placeholder_clean)

    has_digit = bool(_DIGIT_RE.search(seg))
    t = han_only(seg)
    if has_digit and _CODE_RE.search(seg):
        # A staff code: only a plain name or X某 next to it is worth keeping.
        if not t or any(c in _CODE_WORD_CHARS for c in t) or "流浪" in t or "无名" in t:
            return _placeholder(raw, placeholder_clean)

    # Dotted transliterations (买买提·艾力, 爱新觉罗·溥仪) keep their parts.
    dotted = [p for p in map(han_only, seg.split("·")) if p] if "·" in seg else []
    if len(dotted) >= 2:
        first, rest = dotted[0], "".join(dotted[1:])[:_MAX_NAME]
        clean = "·".join(dotted)[:_MAX_NAME]
        if first in _compounds_by_first()[1]:
            return _build(raw, clean, "full", first, rest, _reduce_core(rest))
        if len(first) == 1 and _is_surname(first):
            # 王·秀英: the dot is noise between an ordinary surname and given name.
            mapped = _map_surname(first)
            return _build(raw, mapped + rest, "full", mapped, rest, _reduce_core(rest))
        given = "".join(dotted)[:_MAX_NAME]
        return _build(raw, clean, "full", "", given, given)
    if not t:
        return _placeholder(raw, placeholder_clean)  # latin / digits only
    t = t[:_MAX_NAME]
    if t in _PLACEHOLDER_WORDS or t in _GENERIC_WORDS or t.startswith("无名"):
        return _placeholder(raw, placeholder_clean)

    sur = _surname_only_form(t)
    if sur is not None:
        mapped = _map_surname(sur)
        clean = t.replace(sur, mapped, 1)
        return _build(raw, clean, "surname_only", mapped, "", "")
    if "某" in t:
        return _placeholder(raw, placeholder_clean)  # 某男, 某某某人: no surname given

    if len(t) <= 3:
        nick = _nickname(t)
        if nick is not None:
            sur, core = nick
            mapped = _map_surname(sur) if sur else ""
            clean = t.replace(sur, mapped, 1) if sur else t
            return _build(raw, clean, "nickname", mapped, "", core)

    if len(t) > _MAX_NAME_HAN:
        return _placeholder(raw, placeholder_clean)
    kind, sur, given = _split(t)
    mapped = _map_surname(sur)
    if kind == "surname_only":
        return _build(raw, mapped, kind, mapped, "", "")
    # Unsplit (transliterated) names are compared whole; only Han given names reduce.
    core = _reduce_core(given) if kind == "full" and sur else given
    return _build(raw, mapped + given, kind, mapped, given, core)


_ALIAS_LABELS_RE = re.compile(
    r"(曾用名|小名|乳名|别名|又名|又叫|也叫|外号|绰号|昵称|化名|原名|学名|本名|人称|别称)\s*[:：]?"
)
_ALIAS_SEP_RE = re.compile(r"[、,;/|\\()\[\]{}<>《》【】〔〕「」『』]+")


@lru_cache(maxsize=1 << 16)
def split_aliases(raw: str | None) -> tuple[str, ...]:
    """Split an aliases cell (曾用名/小名) into names; drops labels, blanks and 无/不详.

    Separators: 、 , ; ， ； / | brackets and spaces. A space after a bare surname
    (``王 秀英``) joins instead of splitting.
    """
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return ()
    s = clean_text(str(raw))[: _MAX_INPUT * 4]
    s = _ALIAS_LABELS_RE.sub(",", s)
    out: list[str] = []
    for chunk in _ALIAS_SEP_RE.split(s):
        words = chunk.split()
        i = 0
        while i < len(words):
            w = words[i]
            nxt = words[i + 1] if i + 1 < len(words) else ""
            hn = han_only(nxt)
            if nxt and _is_surname(to_simplified(w)) and hn == nxt and 1 <= len(hn) <= 2:
                w, i = w + nxt, i + 1
            i += 1
            w = w.strip(" :：-_.?？!！")
            if not w or w.lower() in _BLANK or w in _PLACEHOLDER_WORDS or not any(c.isalnum() for c in w):
                continue
            if w not in out:
                out.append(w)
    return tuple(out)
