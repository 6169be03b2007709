"""The list of rescue stations (name, code, prefecture), kept by admins in the database.

Accounts of station staff and uploaded station exports name a station of this list; a name not
on it is refused with the names that are (:class:`UnknownStation`, in Chinese: staff read it).
A station's code defaults to the GB/T 2260 code of the place in its name (长春市救助管理站 ->
220100), its prefecture to that place's prefecture (or province for a municipality's district).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import audit_log
from .models import Station, StationRecord, utcnow

NAME_MAX = 200
CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,39}$")
SUGGESTIONS = 3
# Words of a station's name that are not its place (长春市救助管理站 -> 长春市).
_STATION_WORDS = re.compile(r"(流浪乞讨人员|生活无着)?(救助管理站|救助站|救助管理中心|救助中心|未成年人救助保护中心)$")


class UnknownStation(ValueError):
    """A station name that is not on the list; the message names the known ones."""

    def __init__(self, name: str, known: list[str], suggestions: list[str]) -> None:
        self.name, self.known, self.suggestions = name, known, suggestions
        super().__init__(unknown_station_text(name, known, suggestions))


def unknown_station_text(name: str, known: list[str], suggestions: list[str]) -> str:
    if not known:
        return f"救助站“{name}”不在救助站名单中：名单还是空的，请管理员先登记救助站（xunqin station add 或 xunqin station seed）"
    hint = f"您要找的是不是：{'、'.join(suggestions)}？" if suggestions else ""
    return f"救助站“{name}”不在救助站名单中。{hint}已登记的救助站（{len(known)} 个）：{'、'.join(known)}"


def list_stations(session: Session, *, active_only: bool = False) -> list[Station]:
    stmt = sa.select(Station).order_by(Station.code, Station.name)
    if active_only:
        stmt = stmt.where(Station.is_active)
    return list(session.scalars(stmt))


def known_names(session: Session) -> list[str]:
    """Names of the active stations, by code."""
    return [s.name for s in list_stations(session, active_only=True)]


def suggest(name: str, known: Iterable[str], limit: int = SUGGESTIONS) -> list[str]:
    """The known names closest to a mistyped one (长春救助站 -> 长春市救助管理站)."""
    from rapidfuzz import fuzz, process

    found = process.extract(name, list(known), scorer=fuzz.WRatio, limit=limit, score_cutoff=60)
    return [text for text, _, _ in found]


def require_known(session: Session, name: str | None) -> str:
    """``name`` (stripped) when it is an active station on the list, else UnknownStation."""
    text = (name or "").strip()
    known = known_names(session)
    if text in known:
        return text
    raise UnknownStation(text, known, suggest(text, known) if text and known else [])


def derive(name: str) -> tuple[str, str]:
    """(code, prefecture) for a station named after its place; ValueError when no place is found."""
    from xunqin.normalizers.places import division, parse_place

    place_text = _STATION_WORDS.sub("", name.strip()) or name
    place = parse_place(place_text)
    if place is None or not place.candidates:
        raise ValueError(f"从“{name}”看不出所在地，请用 --code 和 --prefecture 指定")
    d = max(place.candidates, key=lambda c: ("province", "prefecture", "county").index(c.level))
    if d.prefecture:
        prefecture = division(d.prefecture).name
    else:  # a province, a municipality's district, a 省直辖县
        prefecture = d.name if d.level != "county" else division(d.province).name
    return d.code, prefecture


def add_station(session: Session, name: str, code: str | None = None, prefecture: str | None = None,
                actor: str = "admin", ip: str | None = None) -> Station:
    """Put a station on the list; code and prefecture default to :func:`derive` of the name."""
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise ValueError("救助站名称为空或过长")
    if session.scalar(sa.select(Station.id).where(Station.name == name)) is not None:
        raise ValueError(f"救助站“{name}”已在名单中")
    code, prefecture = (code or "").strip(), (prefecture or "").strip()
    if not code or not prefecture:
        derived_code, derived_prefecture = derive(name)
        code = code or _free_code(session, derived_code)
        prefecture = prefecture or derived_prefecture
    if not CODE_RE.match(code):
        raise ValueError("救助站代码只能由字母、数字、- 和 _ 组成（最多 40 位）")
    if len(prefecture) > 100:
        raise ValueError("所在地市名称过长")
    if session.scalar(sa.select(Station.id).where(Station.code == code)) is not None:
        raise ValueError(f"救助站代码 {code} 已被使用")
    station = Station(name=name, code=code, prefecture=prefecture, is_active=True, created_at=utcnow())
    session.add(station)
    session.flush()
    audit_log.add(session, actor, "station_added", entity="station", entity_id=str(station.id), detail={"code": code}, ip=ip)
    return station


def _free_code(session: Session, code: str) -> str:
    taken = set(session.scalars(sa.select(Station.code).where(Station.code.like(f"{code}%"))))
    if code not in taken:
        return code
    n = 2
    while f"{code}-{n}" in taken:
        n += 1
    return f"{code}-{n}"


def update_station(session: Session, station_id: int, *, prefecture: str | None = None, is_active: bool | None = None,
                   actor: str = "admin", ip: str | None = None) -> Station:
    """Change a station's prefecture or switch it off (names and codes stay: records refer to them)."""
    station = session.get(Station, station_id)
    if station is None:
        raise ValueError("没有这个救助站")
    if prefecture is not None:
        prefecture = prefecture.strip()
        if not prefecture or len(prefecture) > 100:
            raise ValueError("所在地市为空或过长")
        station.prefecture = prefecture
    if is_active is not None:
        station.is_active = is_active
    audit_log.add(session, actor, "station_changed", entity="station", entity_id=str(station.id),
                  detail={"is_active": station.is_active}, ip=ip)
    session.flush()
    return station


def names_in_records(session: Session) -> list[str]:
    """Distinct station names of the current station records."""
    names: set[str] = set()
    for (text,) in session.execute(sa.select(sa.cast(StationRecord.normalized, sa.Text)).where(StationRecord.is_current)):
        value = (json.loads(text or "{}") or {}).get("station")
        if value:
            names.add(str(value).strip())
    return sorted(names)


def seed_from_records(session: Session, actor: str = "admin", ip: str | None = None) -> tuple[list[str], list[str]]:
    """Put every station named in the records on the list: (added, not placed: no place in the name)."""
    listed = set(session.scalars(sa.select(Station.name)))
    added, unplaced = [], []
    for name in names_in_records(session):
        if name in listed:
            continue
        try:
            add_station(session, name, actor=actor, ip=ip)
        except ValueError:
            unplaced.append(name)
            continue
        added.append(name)
    return added, unplaced
