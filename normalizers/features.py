"""Free-text physical features -> canonical mark tokens and condition tags.

A mark is written ``kind:part:side`` (疤:眉:左); every mark also yields its coarser forms
``kind:part:`` and ``kind::`` so that 左眉毛处有疤痕 and 左眉有疤 share all three tokens, and
眉有疤 still shares two. Sides are 左/右/''; 双/两侧 gives both 左 and 右. Finger names
(食指, 小拇指 ...) all become the part 手指: families and stations name fingers too
inconsistently for the finer detail to help. Kinds that only sit on one part carry it
(驼背 -> 驼背:背:, 跛脚 / 左腿瘸 -> 跛:腿:...). Negated phrases (无明显疤痕, 没有纹身, 无精神病史)
and clothing phrases (穿蓝色外套) yield nothing. Vocabulary: ``data/marks.csv``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from xunqin.normalizers import places

__all__ = ["Features", "feature_parser", "parse_features", "EMPTY"]

MAX_CHARS = 1000
# A negation reaches this many characters (无明显的疤痕或胎记), not the rest of the clause.
_NEG_REACH = 10
_CLAUSE = re.compile(r"[,.;:!?。，；：！？\n\r]+")
_SPACE = re.compile(r"\s+")
# Which kind a "missing" word (缺, 断, 少一节) makes, by the part it is about.
_MISSING_BY_PART = {"手指": "缺指", "牙": "缺牙", "手": "缺肢", "臂": "缺肢", "腿": "缺肢", "脚": "缺肢"}


@dataclass(frozen=True)
class Features:
    """Canonical mark tokens and condition tags of one features text."""

    marks: frozenset[str] = field(default_factory=frozenset)
    conditions: frozenset[str] = field(default_factory=frozenset)


EMPTY = Features()


@functools.cache
def _vocab() -> tuple[dict[str, tuple[tuple[str, str, str], ...]], dict[str, tuple[int, ...]]]:
    """surface -> ((type, canonical, extra), ...); first char -> surface lengths, longest first."""
    acc: dict[str, list[tuple[str, str, str]]] = {}
    for row in places._data_rows("marks.csv"):
        surface = places._clean(row["surface"])
        acc.setdefault(surface, []).append(
            (row["type"].strip(), row["canonical"].strip(), (row["extra"] or "").strip()))
    lengths: dict[str, set[int]] = {}
    for s in acc:
        lengths.setdefault(s[0], set()).add(len(s))
    return ({s: tuple(v) for s, v in acc.items()},
            {c: tuple(sorted(ls, reverse=True)) for c, ls in lengths.items()})


_Meanings = tuple[tuple[str, str, str], ...]
# A token: (position, meanings, their types, the kind/missing meanings, condition canonicals).
_Token = tuple[int, _Meanings, frozenset[str], _Meanings, tuple[str, ...]]


def _describe(meanings: _Meanings) -> tuple[_Meanings, frozenset[str], _Meanings, tuple[str, ...]]:
    return (meanings, frozenset(m[0] for m in meanings), tuple(m for m in meanings if m[0] in ("kind", "missing")),
            tuple(m[1] for m in meanings if m[0] == "condition"))


@functools.cache
def _described() -> dict[str, tuple[_Meanings, frozenset[str], _Meanings, tuple[str, ...]]]:
    """surface -> :func:`_describe` of its meanings, worked out once rather than per token."""
    return {s: _describe(m) for s, m in _vocab()[0].items()}


_BOTH_SIDES = _describe((("side", "双", ""),))


def _tokenize(clause: str) -> list[_Token]:
    """Longest-match tokens (position, meanings, ...); text between tokens is skipped."""
    vocab, lengths = _vocab()
    described = _described()
    out: list[_Token] = []
    i = 0
    while i < len(clause):
        for length in lengths.get(clause[i], ()):
            s = clause[i : i + length]
            if s in vocab:
                out.append((i, *described[s]))
                i += length
                break
        else:
            # 两 is a side only right before a body part (两手, 两腿), not in 两颗痣.
            if clause[i] == "两":
                nxt = clause[i + 1 : i + 2]
                if any(m[0] == "part" for m in vocab.get(nxt, ())) or any(
                    any(m[0] == "part" for m in vocab.get(clause[i + 1 : i + 1 + n], ()))
                    for n in lengths.get(nxt, ())
                ):
                    out.append((i, *_BOTH_SIDES))
            i += 1
    return out


def _emit(kind: str, parts: list[tuple[str, str]], implied: str, marks: set[str]) -> None:
    if implied:
        side = next((s for _, s in parts if s), "")
        parts = [(implied, side)]
    names = {p for p, _ in parts}
    if "手指" in names:  # 左手食指: the finger is the place, not the hand
        parts = [(p, s) for p, s in parts if p != "手"]
    marks.add(f"{kind}::")
    for part, side in parts:
        marks.add(f"{kind}:{part}:")
        for sd in (("左", "右") if side == "双" else (side,)):
            marks.add(f"{kind}:{part}:{sd}")


def _clause(clause: str, marks: set[str], conditions: set[str]) -> None:
    toks = _tokenize(clause)
    pending: list[tuple[str, str]] = []
    side = ""
    neg_at: int | None = None  # position of the active negation
    neg_used = False
    after_clothing = False
    i = 0
    while i < len(toks):
        pos, meanings, types, kinds, conds = toks[i]
        negated = neg_at is not None and pos - neg_at <= _NEG_REACH
        if "ignore" in types:
            i += 1
            continue
        if "negation" in types:
            neg_at, neg_used = pos, False
        elif "affirm" in types:
            neg_at = None
        elif "clothing" in types:
            pending, side, after_clothing = [], "", True
        elif "side" in types or "part" in types:
            if neg_used:
                neg_at = None  # a new body part after the negated mark: 无疤右手有痣
            after_clothing = False
            canon = meanings[0][1]
            if "side" in types:
                if pending and not pending[-1][1] and i and "part" in toks[i - 1][2]:
                    pending[-1] = (pending[-1][0], canon)  # 眉毛左侧
                side = canon
            else:
                pending.append((canon, side))
        for canon in conds:
            if negated:
                neg_used = True
            else:
                conditions.add(canon)
        if kinds:
            parts = list(pending)
            if parts and kinds[0][0] == "missing":
                # 右手缺食指: parts right after the missing word belong to it too.
                j = i + 1
                while j < len(toks) and toks[j][2] == {"part"}:
                    parts.append((toks[j][1][0][1], parts[-1][1]))
                    j += 1
                i = j - 1
            elif not parts:
                # The part may follow the mark: 疤痕位于左眉, 缺左手食指.
                look_side, j = "", i + 1
                while j < len(toks):
                    tt = toks[j][2]
                    if "side" in tt:
                        if parts:
                            break
                        look_side = toks[j][1][0][1]
                    elif "part" in tt:
                        parts.append((toks[j][1][0][1], look_side))
                    elif not tt <= {"ignore", "affirm"}:
                        break
                    j += 1
                if parts:
                    i = j - 1
            if negated:
                neg_used = True
            elif not after_clothing:
                typ, kind, implied = kinds[0]
                if typ == "missing":
                    names = [p for p, _ in parts]
                    kind = next((_MISSING_BY_PART[p] for p in ("手指", "牙") if p in names), "")
                    kind = kind or next((_MISSING_BY_PART.get(p, "缺损") for p in names), "")
                    parts = [(p, s) for p, s in parts if kind != "缺指" or p == "手指"]
                    implied = "牙" if kind == "缺牙" else ""
                if kind:
                    _emit(kind, list(parts), implied, marks)
                    if kind == "缺肢":
                        conditions.add("肢体残疾")
            pending, side = [], ""
        i += 1


@functools.lru_cache(maxsize=1 << 16)
def _clause_tags(clause: str) -> tuple[frozenset[str], frozenset[str]]:
    """(marks, conditions) of one clause: a clause's reading depends on it alone, and the same
    clauses (患有精神分裂症, 走失时穿...) recur across many texts."""
    marks: set[str] = set()
    conditions: set[str] = set()
    _clause(clause, marks, conditions)
    return frozenset(marks), frozenset(conditions)


@functools.lru_cache(maxsize=1 << 16)
def parse_features(raw: str | None) -> Features:
    """Mark tokens and condition tags of a features text; never raises."""
    if not isinstance(raw, str):
        return EMPTY
    return _features_of(places._clean_keep_punct(raw[: MAX_CHARS * 2]))


def feature_parser(values: list[object]) -> Callable[[object], Features]:
    """:func:`parse_features` for ``values`` (a column's distinct values): the same results,
    the texts cleaned together beforehand (:func:`~xunqin.normalizers.places.clean_keep_punct_all`)."""
    texts = [v for v in values if type(v) is str]
    cleaned = dict(zip(texts, places.clean_keep_punct_all([t[: MAX_CHARS * 2] for t in texts])))

    def parse(raw: object) -> Features:
        text = cleaned.get(raw) if type(raw) is str else None
        return parse_features(raw) if text is None else _features_of(text)

    return parse


def _features_of(cleaned: str) -> Features:
    """:func:`parse_features` of a text its ``_clean_keep_punct`` gave ``cleaned``."""
    text = _SPACE.sub("", cleaned)[:MAX_CHARS]
    if not text:
        return EMPTY
    marks: set[str] = set()
    conditions: set[str] = set()
    for clause in _CLAUSE.split(text):
        if clause:
            clause_marks, clause_conditions = _clause_tags(clause)
            marks |= clause_marks
            conditions |= clause_conditions
    if {"聋", "哑"} <= conditions:
        conditions.add("聋哑")
    return Features(frozenset(marks), frozenset(conditions))
