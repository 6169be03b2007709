"""One settings object for the matcher: blocking passes and comparisons, declared as data.

Like Splink's comparison library, a comparison is an ordered list of levels; the first level
whose condition holds for a pair is that pair's level. The first level of every comparison is
the null level (a field missing on either side carries no weight); the last is ``else``.
Conditions are names of vectorized predicates in :mod:`xunqin.matching.levels`; the null
level's condition says when the field counts as missing for that pair.

Settings round-trip to JSON and YAML; a trained model is these settings plus the m and u
probabilities per level (see :mod:`xunqin.matching.model`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class KeyPart:
    """One part of a blocking key: a key column on the station side and on the report side."""

    station: str
    report: str


@dataclass(frozen=True)
class BlockingPass:
    """Pairs that agree on every part of the key (multi-valued keys: on any value).

    ``max_reports_per_key`` keeps very common keys (王秀英, 张伟) from exploding the pair count:
    a key value held by more reports than that is skipped in this pass and counted; another,
    tighter pass has to catch those pairs.
    """

    name: str
    keys: tuple[KeyPart, ...]
    max_reports_per_key: int = 5000
    station_kinds: tuple[str, ...] = ()  # name kinds this pass applies to; () = all


@dataclass(frozen=True)
class Level:
    label: str
    when: str  # predicate name in levels.PREDICATES, or 'else' for the last level
    params: dict[str, Any] = field(default_factory=dict)
    m: float | None = None  # starting m for EM (trained values live in the model)
    tf: str | None = None  # term-frequency adjust this level on that station/report value


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[Level, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(level.label for level in self.levels)


@dataclass(frozen=True)
class EMSettings:
    max_iterations: int = 30
    tolerance: float = 1e-5
    start_match_share: float = 0.01
    max_pairs: int = 2_000_000  # EM on a random sample of the blocked pairs
    u_random_pairs: int = 1_000_000
    seed: int = 20261129


@dataclass(frozen=True)
class Settings:
    blocking: tuple[BlockingPass, ...]
    comparisons: tuple[Comparison, ...]
    top_k: int = 10
    em: EMSettings = EMSettings()

    def comparison(self, name: str) -> Comparison:
        for comparison in self.comparisons:
            if comparison.name == name:
                return comparison
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return _prune(asdict(self))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Settings:
        blocking = tuple(
            BlockingPass(
                name=p["name"],
                keys=tuple(KeyPart(**k) for k in p["keys"]),
                max_reports_per_key=p.get("max_reports_per_key", 5000),
                station_kinds=tuple(p.get("station_kinds", ())),
            )
            for p in raw["blocking"]
        )
        comparisons = tuple(
            Comparison(
                name=c["name"],
                levels=tuple(
                    Level(
                        label=lv["label"],
                        when=lv["when"],
                        params=dict(lv.get("params", {})),
                        m=lv.get("m"),
                        tf=lv.get("tf"),
                    )
                    for lv in c["levels"]
                ),
            )
            for c in raw["comparisons"]
        )
        settings = cls(
            blocking=blocking,
            comparisons=comparisons,
            top_k=int(raw.get("top_k", 10)),
            em=_em_settings(raw.get("em", {})),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        from .levels import PREDICATES  # local: settings stay importable on their own

        for comparison in self.comparisons:
            whens = [lv.when for lv in comparison.levels]
            if comparison.levels[0].label != "null" or whens[-1] != "else":
                raise ValueError(f"comparison {comparison.name}: levels must run null … else")
            for when in whens[:-1]:
                if when not in PREDICATES:
                    raise ValueError(f"comparison {comparison.name}: unknown condition {when!r}")
            if len(set(comparison.labels)) != len(comparison.labels):
                raise ValueError(f"comparison {comparison.name}: duplicate level labels")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False)

    @classmethod
    def from_text(cls, text: str) -> Settings:
        # YAML is a superset of JSON, so one loader reads both.
        return cls.from_dict(yaml.safe_load(text))

    @classmethod
    def load(cls, path: str | Path) -> Settings:
        return cls.from_text(Path(path).read_text(encoding="utf-8"))


def _em_settings(raw: dict[str, Any]) -> EMSettings:
    # PyYAML reads 1e-05 (no dot) as a string: coerce every field to its declared type
    defaults = EMSettings()
    return EMSettings(**{k: type(getattr(defaults, k))(v) for k, v in raw.items()})


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
    return Settings.from_text(text)
