"""Police verification results (公安核查结果) taken into the workstation database.

A confirmed pair (比中) closes both records through a 确认 decision, records the reunion and is
kept as a labelled example; a ruled-out pair (未比中) becomes a 排除 decision (never offered
again) and a label; an open one (核查中) is only stored. A result naming a record the database
does not hold is reported and not taken; a result for a pair never exported as 疑似 is taken
and flagged. A result already recorded (same pair, result, method and date) changes nothing.
Every taken result is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import audit_log, decisions
from .frames import chunks
from .models import CONFIRMED, EXCLUDED, Decision, Label, PoliceResult, Report, Reunion, StationRecord, utcnow

DECISION_OF = {"confirmed": CONFIRMED, "ruled_out": EXCLUDED}


@dataclass
class PoliceImport:
    """What one results file did (counts, and the rows not taken with their reason in Chinese)."""

    rows: int = 0
    taken: int = 0
    confirmed: int = 0
    ruled_out: int = 0
    still_open: int = 0
    already_recorded: int = 0
    not_exported: int = 0  # taken, flagged: the police checked a pair of their own
    not_taken: list[dict[str, object]] = field(default_factory=list)  # row, column, value, reason

    def as_dict(self) -> dict[str, object]:
        return {"rows": self.rows, "taken": self.taken, "confirmed": self.confirmed, "ruled_out": self.ruled_out,
                "open": self.still_open, "already_recorded": self.already_recorded,
                "not_exported": self.not_exported, "not_taken": len(self.not_taken)}


def _current_keys(session: Session, model: type[StationRecord] | type[Report], column: sa.Column, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for part in chunks(sorted(set(keys))):
        found.update(session.scalars(sa.select(column).where(column.in_(part), model.is_current)))
    return found


def _exported_pairs(session: Session, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Pairs ever marked 疑似 (what the police export holds)."""
    stations = sorted({s for s, _ in pairs})
    out: set[tuple[str, str]] = set()
    for part in chunks(stations):
        out.update(tuple(r) for r in session.execute(sa.select(Decision.station_record_id, Decision.report_id)
                                                     .where(Decision.station_record_id.in_(part), Decision.decision == "疑似")))
    return out


def _recorded(session: Session, pairs: list[tuple[str, str]]) -> set[tuple[str, str, str, str | None, dt.date | None]]:
    stations = sorted({s for s, _ in pairs})
    out: set[tuple[str, str, str, str | None, dt.date | None]] = set()
    for part in chunks(stations):
        out.update(tuple(r) for r in session.execute(sa.select(PoliceResult.station_record_id, PoliceResult.report_id,
                                                               PoliceResult.result, PoliceResult.method, PoliceResult.verified_on)
                                                     .where(PoliceResult.station_record_id.in_(part))))
    return out


def take_results(session: Session, results: pd.DataFrame, *, actor: str, source_file_id: int | None,
                 today: dt.date | None = None) -> PoliceImport:
    """Store normalized result rows (station_record_id, report_id, result, result_text, method,
    verified_on, note, source_row) and apply them to the queue; the caller commits."""
    outcome = PoliceImport(rows=len(results))
    if results.empty:
        return outcome
    rows = results.to_dict("records")
    pairs = [(str(r["station_record_id"]), str(r["report_id"])) for r in rows]
    known_s = _current_keys(session, StationRecord, StationRecord.record_id, [s for s, _ in pairs])
    known_r = _current_keys(session, Report, Report.report_id, [r for _, r in pairs])
    exported = _exported_pairs(session, pairs)
    recorded = _recorded(session, pairs)
    now = utcnow()
    for row, (sid, rid) in zip(rows, pairs):
        unknown = [(col, key, "救助站记录编号在库中不存在" if col == "station_record_id" else "寻人启事编号在库中不存在")
                   for col, key, known in (("station_record_id", sid, known_s), ("report_id", rid, known_r)) if key not in known]
        if unknown:
            col, key, why = unknown[0]
            outcome.not_taken.append({"row": row["source_row"], "column": col, "value": key, "reason": why})
            continue
        verified = row.get("verified_on")
        signature = (sid, rid, row["result"], row.get("method"), verified)
        if signature in recorded:
            outcome.already_recorded += 1
            continue
        recorded.add(signature)
        was_exported = (sid, rid) in exported
        result = PoliceResult(station_record_id=sid, report_id=rid, result=row["result"], result_text=row["result_text"],
                              method=row.get("method"), verified_on=verified, note=row.get("note"),
                              was_exported=was_exported, source_file_id=source_file_id, source_row=row["source_row"],
                              recorded_by=actor, recorded_at=now)
        session.add(result)
        session.flush()
        outcome.taken += 1
        outcome.not_exported += not was_exported
        if row["result"] == "open":
            outcome.still_open += 1
        else:
            why = "公安核查" + (f"（{row['method']}）" if row.get("method") else "") + (f"：{row['note']}" if row.get("note") else "")
            decision_id = decisions.record_decision(session, sid, rid, DECISION_OF[row["result"]], reviewer=f"公安:{actor}",
                                                    note=why, label_source=None)
            session.add(Label(station_record_id=sid, report_id=rid, is_match=row["result"] == "confirmed", source="police",
                              actor=actor, reason=why, decision_id=decision_id, police_result_id=result.id, labelled_at=now))
            if row["result"] == "confirmed":
                outcome.confirmed += 1
                reunion = session.scalars(sa.select(Reunion).where(Reunion.station_record_id == sid)).first()
                if reunion is None:
                    session.add(Reunion(station_record_id=sid, report_id=rid, reunited_on=verified or today or dt.date.today(),
                                        method=row.get("method"), police_result_id=result.id, recorded_at=now))
            else:
                outcome.ruled_out += 1
        audit_log.add(session, actor, "police_result", entity="pair", entity_id=f"{sid}|{rid}",
                      detail={"result": row["result"], "was_exported": was_exported, "police_result_id": result.id})
    return outcome
