"""One settings object for the matcher: blocking passes and comparisons, declared as data.

Like Splink's comparison library, a comparison is an ordered list of levels; the first level
whose condition holds for a pair is that pair's level. The first level of every comparison is
the null level (a field missing on either side carries no weight); the last is ``else``.
Conditions are names of vectorized predicates in :mod:`xunqin.matching.predicates`; the null
level's condition says when the field counts as missing for that pair.

Settings round-trip to JSON and YAML; a trained model is these settings plus the m and u
probabilities per level (see :mod:`xunqin.matching.model`).

The classes are pydantic dataclasses: building one (from a file, a model's JSON, or in code,
also through ``dataclasses.replace``) checks every key, type and range, every field name
against the fields :mod:`xunqin.matching.features` gives each side, every condition against
``predicates.PREDICATES`` and its parameters against :data:`PREDICATE_PARAMS`, so a misspelt key is
refused when the settings load, with its path (``blocking[3].keys[0].station: …``), never a
``KeyError`` in the middle of a run. Loading (``from_dict``, ``from_text``, ``load``) raises
:class:`SettingsError`, one problem per line; building a class in code raises pydantic's
``ValidationError`` with the same messages (both are ``ValueError``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, Strict, TypeAdapter, ValidationError
from pydantic import ValidationInfo, field_validator
from pydantic.dataclasses import dataclass
from pydantic_core import PydanticCustomError

# ---------------------------------------------------------------------------- errors


class SettingsError(ValueError):
    """Settings refused: one problem per line, each ``path: what is wrong``, after the file."""

    def __init__(self, problems: Sequence[tuple[str, str]], source: str | None = None) -> None:
        self.problems = [tuple(p) for p in problems]
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return "\n".join(f"{where}{path}: {why}" if path else f"{where}{why}" for path, why in self.problems)

    def __reduce__(self):  # pickled whole (a task's error crossing processes keeps its problems)
        return (type(self), (self.problems, self.source))

    def located(self, source: str | Path, prefix: str = "") -> SettingsError:
        """The same problems as found in ``source`` (under ``prefix``: a model file's ``settings``)."""
        problems = [(".".join(p for p in (prefix, path) if p), why) for path, why in self.problems]
        return SettingsError(problems, str(source))


def _at(why: str, *where: str | int) -> PydanticCustomError:
    """A problem below the value being validated (``where``: keys and positions under it)."""
    return PydanticCustomError("settings", "{why}", {"why": why, "where": where})


def _path(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problems(exc: ValidationError, root: type) -> list[tuple[str, str]]:
    return [(_path(loc), why) for loc, why in _located(exc, root)]


def _located(exc: ValidationError, root: type) -> list[tuple[list[str | int], str]]:
    """(where, what is wrong) per error, in words a settings file's author reads."""
    problems = []
    for err in exc.errors(include_url=False):
        loc, ctx = list(err["loc"]), err.get("ctx") or {}
        if err["type"] == "settings":
            loc += list(ctx.get("where", ()))
            why = ctx["why"]
        elif err["type"] in ("unexpected_keyword_argument", "extra_forbidden"):
            known = _known_keys(root, loc[:-1])
            why = "unknown key " + (f"(known: {', '.join(known)})" if known else "(the condition takes no parameters)")
        elif err["type"] == "too_short":
            n = ctx["min_length"]
            why = f"needs at least {n} {'entry' if n == 1 else 'entries'}, got {ctx['actual_length']}"
        elif err["type"] in ("missing", "missing_argument"):
            why = "required key missing"
        elif err["type"] == "value_error":
            why = str(ctx.get("error", err["msg"]))
        else:
            why = f"{err['msg']}, got {err['input']!r}"
        problems.append((loc, why))
    # an entry refused also makes its list too short: the entry's problem is the one to fix
    return [(loc, why) for loc, why in problems
            if not why.startswith("needs at least")
            or not any(len(other) > len(loc) and other[: len(loc)] == loc for other, _ in problems)]


def _known_keys(root: type, loc: Sequence[str | int]) -> list[str]:
    """The keys the settings take at ``loc`` (the parent of an unknown key)."""
    kind: type | None = root
    for part in loc:
        if isinstance(part, int) or kind is None:
            continue
        kind = _NESTED.get((kind.__name__, part))
    if kind is None:
        return []
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return list(kind.model_fields)
    return [f.name for f in dataclasses.fields(kind)]


# ---------------------------------------------------------------------------- what settings may name


@dataclasses.dataclass(frozen=True)
class PreparedFields:
    """The fields :func:`xunqin.matching.features.prepare` gives each side."""

    station_keys: frozenset[str]  # multi-valued fields: blocking keys, overlap and multi_missing
    report_keys: frozenset[str]
    station_values: frozenset[str]  # one value per row
    report_values: frozenset[str]


@cache
def prepared_fields() -> PreparedFields:
    """Read from an empty preparation, so that the list is prepare's own and cannot drift from it."""
    import pandas as pd

    from .codes import Vocabulary
    from .features import prepare_reports, prepare_stations

    stations = prepare_stations(pd.DataFrame(), Vocabulary())
    reports = prepare_reports(pd.DataFrame(), Vocabulary())
    return PreparedFields(frozenset(stations.multi), frozenset(reports.multi),
                          frozenset(stations.values), frozenset(reports.values))


@cache
def name_kinds() -> tuple[str, ...]:
    from xunqin.normalizers.names import KINDS

    return KINDS


@cache
def predicate_names() -> frozenset[str]:
    from .predicates import PREDICATES  # local: settings stay importable without numpy work

    return frozenset(PREDICATES)


def _known(names) -> str:
    return ", ".join(sorted(names))


def _field_of(side: str, kind: str, optional: bool = False):
    """A validator: the value names a ``kind`` ('keys' or 'values') field of ``side``."""

    def check(name: Any) -> str | None:
        if name is None and optional:
            return None
        if not isinstance(name, str):
            raise ValueError(f"a field name is text, got {name!r}")
        fields = getattr(prepared_fields(), f"{side}_{kind}")
        if name not in fields:
            what = "key column" if kind == "keys" else "field"
            raise ValueError(f"{name!r} is not a {side} {what} (known: {_known(fields)})")
        return name

    return PlainValidator(check)


def _place(side: str):
    """A place prefix of ``side``: ``found`` names found_lat and found_lon."""

    def check(name: Any) -> str:
        values = getattr(prepared_fields(), f"{side}_values")
        places = {f[: -len("_lat")] for f in values if f.endswith("_lat") and f[: -len("_lat")] + "_lon" in values}
        if name not in places:
            raise ValueError(f"{name!r} is not a {side} place (known: {_known(places)})")
        return name

    return PlainValidator(check)


def _first_reading(name: Any) -> str:
    """pinyin_similarity's ``field``: both sides hold ``{field}_first``."""
    fields = prepared_fields()
    known = {f[: -len("_first")] for f in fields.station_values & fields.report_values if f.endswith("_first")}
    if name not in known:
        raise ValueError(f"{name!r} has no first reading on both sides (known: {_known(known)})")
    return name


def _name_kinds(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"a list of name kinds, got {value!r} (known: {', '.join(name_kinds())})")
    for k, kind in enumerate(value):
        if kind not in name_kinds():
            raise _at(f"{kind!r} is not a name kind (known: {', '.join(name_kinds())})", k)
    return tuple(value)


def _number(*, ge: float | None = None, gt: float | None = None, le: float | None = None,
            as_float: bool = False, optional: bool = False):
    """A number (not a boolean): PyYAML reads 1e-05 (no dot) as text, so numeric text counts."""

    def check(value: Any) -> int | float | None:
        if value is None and optional:
            return None
        number = value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number != number:
            raise ValueError(f"must be a number, got {value!r}")
        if ge is not None and number < ge or gt is not None and number <= gt or le is not None and number > le:
            bounds = [f">= {ge}" if ge is not None else "", f"> {gt}" if gt is not None else "",
                      f"<= {le}" if le is not None else ""]
            raise ValueError(f"must be {' and '.join(b for b in bounds if b)}, got {value!r}")
        return float(number) if as_float else number

    return PlainValidator(check)


Count = Annotated[int, Strict(), Field(ge=1)]
Text = Annotated[str, Strict(), Field(min_length=1)]
NameKinds = Annotated[tuple[str, ...], PlainValidator(_name_kinds)]
_STRICT = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------- level parameters


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _NoParams(_Params):
    pass


class _StationReportKeys(_Params):
    station: Annotated[str, _field_of("station", "keys")]
    report: Annotated[str, _field_of("report", "keys")]


class _Overlap(_StationReportKeys):
    station_kinds: NameKinds = ()  # only station records whose name is of these kinds


class _PinyinSimilarity(_Params):
    min: Annotated[float, _number(ge=0, le=1)]
    field: Annotated[str, PlainValidator(_first_reading)] = "name_pinyin"


class _AgeWithin(_Params):
    years: Annotated[float, _number(ge=0)] = 0
    share: Annotated[float, _number(ge=0)] = 0


class _Days(_Params):
    days: Annotated[float, _number(ge=0)]


class _DaysOptional(_Params):
    days: Annotated[float, _number(ge=0)] = 0


class _Places(_Params):
    station: Annotated[str, _place("station")]
    report: Annotated[str, _place("report")]


class _DistanceWithin(_Places):
    km: Annotated[float, _number(gt=0)]


class _HeightMissing(_Params):
    child_age: Annotated[float, _number(ge=0)] = 18
    grow_years: Annotated[float, _number(ge=0)] = 1


class _HeightWithin(_Params):
    cm: Annotated[float, _number(ge=0)]


PREDICATE_PARAMS: dict[str, type[_Params]] = {
    "multi_missing": _StationReportKeys,
    "overlap": _Overlap,
    "name_missing": _NoParams,
    "pinyin_similarity": _PinyinSimilarity,
    "gender_missing": _NoParams,
    "gender_equal": _NoParams,
    "age_missing": _NoParams,
    "age_within": _AgeWithin,
    "dates_missing": _NoParams,
    "found_before_missing": _DaysOptional,
    "elapsed_within": _Days,
    "distance_missing": _Places,
    "distance_within": _DistanceWithin,
    "height_missing": _HeightMissing,
    "height_within": _HeightWithin,
    "id_missing": _NoParams,
    "id_equal": _NoParams,
    "id_both_full": _NoParams,
}
"""The parameters each predicate of ``predicates.PREDICATES`` takes (the test suite keeps both in step)."""


# ---------------------------------------------------------------------------- the settings


@dataclass(frozen=True, config=_STRICT)
class KeyPart:
    """One part of a blocking key: a key column on the station side and on the report side."""

    station: Annotated[str, _field_of("station", "keys")]
    report: Annotated[str, _field_of("report", "keys")]


@dataclass(frozen=True, config=_STRICT)
class BlockingPass:
    """Pairs that agree on every part of the key (multi-valued keys: on any value).

    ``max_reports_per_key`` keeps very common keys (王秀英, 张伟) from exploding the pair count:
    a key value held by more reports than that is skipped in this pass and counted; another,
    tighter pass has to catch those pairs.
    """

    name: Text
    keys: Annotated[tuple[KeyPart, ...], Field(min_length=1)]
    max_reports_per_key: Count = 5000
    station_kinds: NameKinds = ()  # name kinds this pass applies to; () = all


@dataclass(frozen=True, config=_STRICT)
class Level:
    label: Text
    when: str  # predicate name in levels.PREDICATES, or 'else' for the last level
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    m: Annotated[float | None, _number(gt=0, le=1, optional=True)] = None  # starting m for EM (trained values live in the model)
    tf: Annotated[str | None, _field_of("station", "values", optional=True)] = None  # term-frequency adjust on that station value

    @field_validator("label", mode="before")
    @classmethod
    def _label_text(cls, value: Any) -> Any:
        if value is None:  # YAML reads a bare null as nothing
            raise ValueError('a label is text (write "null" in quotes in YAML)')
        return value

    @field_validator("when", mode="before")
    @classmethod
    def _known_condition(cls, value: Any) -> str:
        if value != "else" and value not in predicate_names():
            raise ValueError(f"unknown condition {value!r} (known: {_known(predicate_names())}, else)")
        return value

    @field_validator("params", mode="before")
    @classmethod
    def _predicate_params(cls, value: Any, info: ValidationInfo) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValueError(f"params are a mapping, got {value!r}")
        when = info.data.get("when")
        if when is None:  # the condition itself was refused
            return dict(value)
        schema = _NoParams if when == "else" else PREDICATE_PARAMS.get(when)
        if schema is None:
            raise ValueError(f"{when!r} has no parameter schema: declare it in settings.PREDICATE_PARAMS")
        try:
            checked = schema.model_validate(value)
        except ValidationError as exc:
            (where, why), *_ = _located(exc, schema)  # one at a time: the first
            raise _at(why, *where) from None
        # what was written, as checked (defaults stay implicit: the files people read stay short)
        return {k: getattr(checked, k) for k in value}


@dataclass(frozen=True, config=_STRICT)
class Comparison:
    name: Text
    levels: Annotated[tuple[Level, ...], Field(min_length=2)]

    @field_validator("levels")
    @classmethod
    def _null_first_else_last(cls, levels: tuple[Level, ...]) -> tuple[Level, ...]:
        if levels[0].label != "null":
            raise _at(f'the first level is the null level (label "null"), not {levels[0].label!r}', 0, "label")
        if levels[0].when == "else":
            raise _at("the null level needs a condition saying when the field is missing", 0, "when")
        for k, level in enumerate(levels[:-1]):
            if level.when == "else":
                raise _at("only the last level is 'else'", k, "when")
        if levels[-1].when != "else":
            raise _at(f"the last level is 'else', not {levels[-1].when!r}", len(levels) - 1, "when")
        _unique([lv.label for lv in levels], "label")
        return levels

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(level.label for level in self.levels)


def _unique(names: list[str], key: str) -> None:
    seen = set()
    for k, name in enumerate(names):
        if name in seen:
            raise _at(f"duplicate {key} {name!r}", k, key)
        seen.add(name)


@dataclass(frozen=True, config=_STRICT)
class EMSettings:
    max_iterations: Count = 30
    tolerance: Annotated[float, _number(gt=0, as_float=True)] = 1e-5
    start_match_share: Annotated[float, _number(gt=0, le=0.5, as_float=True)] = 0.01
    max_pairs: Count = 2_000_000  # EM on a random sample of the blocked pairs
    u_random_pairs: Count = 1_000_000
    seed: Annotated[int, Strict(), Field(ge=0)] = 20261129


@dataclass(frozen=True, config=_STRICT)
class Settings:
    blocking: Annotated[tuple[BlockingPass, ...], Field(min_length=1)]
    comparisons: Annotated[tuple[Comparison, ...], Field(min_length=1)]
    top_k: Count = 10
    em: EMSettings = dataclasses.field(default_factory=EMSettings)

    @field_validator("blocking")
    @classmethod
    def _unique_passes(cls, passes: tuple[BlockingPass, ...]) -> tuple[BlockingPass, ...]:
        _unique([p.name for p in passes], "name")  # pass statistics are kept by name
        return passes

    @field_validator("comparisons")
    @classmethod
    def _unique_comparisons(cls, comparisons: tuple[Comparison, ...]) -> tuple[Comparison, ...]:
        _unique([c.name for c in comparisons], "name")  # a model's m and u are kept by name
        return comparisons

    def comparison(self, name: str) -> Comparison:
        for comparison in self.comparisons:
            if comparison.name == name:
                return comparison
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return _prune(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, raw: Any, source: str | Path | None = None) -> Settings:
        """Checked settings; :class:`SettingsError` names every problem's path (and ``source``)."""
        if not isinstance(raw, dict):
            raise SettingsError([("", "settings are a mapping (blocking, comparisons, top_k, em), "
                                      f"got {type(raw).__name__}")], None if source is None else str(source))
        try:
            return _adapter().validate_python(raw)
        except ValidationError as exc:
            raise SettingsError(_problems(exc, Settings), None if source is None else str(source)) from None

    def validate(self) -> None:
        """Check again (building settings already checks them)."""
        Settings.from_dict(self.to_dict())

    def differences(self, other: Settings) -> list[tuple[str, str, str]]:
        """Where ``other`` differs from these settings: (path, this value, the other), values as short JSON."""
        return _differences(self.to_dict(), other.to_dict(), [])

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False)

    @classmethod
    def from_text(cls, text: str, source: str | Path | None = None) -> Settings:
        # YAML is a superset of JSON, so one loader reads both.
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark is not None else ""
            raise SettingsError([(where, f"not YAML or JSON ({getattr(exc, 'problem', None) or exc})")],
                                None if source is None else str(source)) from None
        return cls.from_dict(raw, source)

    @classmethod
    def load(cls, path: str | Path) -> Settings:
        return cls.from_text(Path(path).read_text(encoding="utf-8"), path)


# the classes one level down, by (class, key): where an unknown key's known siblings are looked up
_NESTED: dict[tuple[str, str], type] = {
    ("Settings", "blocking"): BlockingPass,
    ("Settings", "comparisons"): Comparison,
    ("Settings", "em"): EMSettings,
    ("BlockingPass", "keys"): KeyPart,
    ("Comparison", "levels"): Level,
}


@cache
def _adapter() -> TypeAdapter[Settings]:
    return TypeAdapter(Settings)


def _differences(a: Any, b: Any, loc: list[str | int]) -> list[tuple[str, str, str]]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in {**a, **b} for d in _differences(a.get(k), b.get(k), [*loc, k])]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [(_path(loc), f"{len(a)} entries", f"{len(b)} entries")]
        return [d for k, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, [*loc, k])]
    if a == b:
        return []
    return [(_path(loc), _short(a), _short(b))]


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if value is not None else "(none)"
    return text if len(text) <= 60 else text[:57] + "..."


def _prune(value: Any) -> Any:
    """Drop empty/None entries so the files people read stay short."""
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v not in (None, {}, (), [])}
    if isinstance(value, (list, tuple)):
        return [_prune(v) for v in value]
    return value


@cache
def default_settings() -> Settings:
    text = (files("xunqin.matching") / "default_settings.yaml").read_text(encoding="utf-8")
    return Settings.from_text(text, "default_settings.yaml")
