"""``xunqin police-import FILE --db URL``, and the inbox's police results files.

The file is read like the other exchange files (CSV or XLSX, either header language, any
column order; ../shared/exchange-format.md, "Police verification results"), each row's result
read into confirmed / ruled out / open, and the rows handed to :mod:`xunqin.store.police`.
Every row is accounted for: taken, already recorded, or not taken with its reason in Chinese.
The same file twice changes nothing (known by content hash, and each result by its content).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

# 核查结果 as written -> what it means
RESULTS = {
    "比中": "confirmed", "确认": "confirmed", "是本人": "confirmed", "已比中": "confirmed", "认定": "confirmed",
    "未比中": "ruled_out", "排除": "ruled_out", "非本人": "ruled_out", "不是本人": "ruled_out", "否定": "ruled_out",
    "待核查": "open", "核查中": "open", "待核实": "open", "未核查": "open",
}
METHODS = {"dna": "DNA", "指纹": "指纹", "人像比对": "人像比对", "人脸": "人像比对", "人脸比对": "人像比对",
           "人像": "人像比对", "其他": "其他", "其它": "其他"}


def normalize_results(raw: Any) -> tuple[pd.DataFrame, list[dict[str, object]]]:
    """A read results table -> (rows to take, rejected cells: row, column, value, reason)."""
    from xunqin.normalizers.dates import parse_date

    rows: list[dict[str, object]] = []
    rejects: list[dict[str, object]] = []
    refused = {row for row, _, _ in getattr(raw, "refused_rows", ())}
    for record, source_row in zip(raw.data.to_dict("records"), raw.source_row.astype(int).tolist()):
        if source_row in refused:
            rejects.append({"row": source_row, "column": None, "value": None, "reason": "行不完整（文件被截断）"})
            continue
        sid, rid = (str(record.get(c) or "").strip() for c in ("station_record_id", "report_id"))
        text = str(record.get("result") or "").strip()
        missing = [c for c, v in (("station_record_id", sid), ("report_id", rid), ("result", text)) if not v]
        if missing:
            rejects.append({"row": source_row, "column": missing[0], "value": None, "reason": "必填项为空"})
            continue
        result = RESULTS.get(text.replace(" ", ""))
        if result is None:
            rejects.append({"row": source_row, "column": "result", "value": text,
                            "reason": "核查结果无法识别（应为 比中 / 未比中 / 核查中 等）"})
            continue
        method_text = str(record.get("method") or "").strip()
        # a method not in the list is kept as written: it is the police's word, not a field we match on
        method = (METHODS.get(method_text.lower().replace(" ", ""), method_text[:40]) if method_text else None)
        verified: dt.date | None = None
        date_text = str(record.get("verified_date") or "").strip()
        if date_text:
            try:
                parsed = parse_date(date_text)
            except ValueError:
                parsed = None
            if parsed is None or parsed.day is None:
                rejects.append({"row": source_row, "column": "verified_date", "value": date_text, "reason": "核查日期无法识别到日"})
            else:
                verified = dt.date(parsed.year, parsed.month or 1, parsed.day)
        note = str(record.get("note") or "").strip() or None
        rows.append({"station_record_id": sid, "report_id": rid, "result": result, "result_text": text, "method": method,
                     "verified_on": verified, "note": note, "source_row": source_row})
    return pd.DataFrame(rows, columns=["station_record_id", "report_id", "result", "result_text", "method", "verified_on",
                                       "note", "source_row"]), rejects


def import_file(url: str, path: str | Path, actor: str, *, raw: Any = None, run_id: int | None = None) -> dict[str, Any]:
    """Take one results file into the database (one transaction); returns counts and the rows
    not taken. ``raw``: the file already read (the inbox sniffed it)."""
    from xunqin.ingest.read import read_table
    from xunqin.store import db, records
    from xunqin.store.models import Reject, SourceFile, utcnow
    from xunqin.store.police import take_results

    path = Path(path)
    content_hash = records.file_hash(path)
    with db.sessions(url).begin() as s:
        seen = records.find_file(s, content_hash)
        if seen is not None and seen.status == "taken":
            return {"file": path.name, "kind": "police", "status": "seen", "rows": 0, "taken": 0, "not_taken": []}
        raw = raw if raw is not None else read_table(path, "police")
        results, rejects = normalize_results(raw)
        src = seen or SourceFile(content_hash=content_hash)
        src.file_name, src.kind, src.status, src.reason, src.rows_in = path.name, "police", "taken", None, len(raw.data)
        src.rows_new = src.rows_changed = src.rows_unchanged = 0
        src.rejects, src.run_id, src.taken_at = 0, run_id, utcnow()
        s.add(src)
        s.flush()
        outcome = take_results(s, results, actor=actor, source_file_id=src.id)
        not_taken = sorted(rejects + outcome.not_taken, key=lambda r: (int(r["row"] or 0), str(r["column"] or "")))
        for r in not_taken:
            s.add(Reject(source_file_id=src.id, row=r["row"], column=r["column"],
                         value=None if r["value"] is None else str(r["value"]), reason=str(r["reason"]), severity="row"))
        src.rows_new, src.rejects = outcome.taken, len(not_taken)
    summary = {"file": path.name, "kind": "police", "status": "taken", **outcome.as_dict(),
               "not_taken": not_taken, "rows": len(raw.data)}
    summary["not_taken_count"] = len(not_taken)
    return summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from xunqin.store.url import DEFAULT_URL, URL_ENV

    parser.add_argument("file", type=Path, help="police verification results (CSV or XLSX)")
    parser.add_argument("--db", default=None, help=f"database URL (default ${URL_ENV}, else {DEFAULT_URL})")
    parser.add_argument("--actor", default="police-import", help="who imports it (for the audit log)")


def run(args: argparse.Namespace) -> int:
    from xunqin.store import db

    url = db.database_url(args.db)
    db.upgrade(url)  # the night and the web app have migrated already; a command run alone has not
    done = import_file(url, args.file, args.actor)
    if done["status"] == "seen":
        print(f"{done['file']}: 此文件已导入过，未作任何改动 (taken before: nothing changed)")
        return 0
    print(f"{done['file']}: 共 {done['rows']} 行；采纳 {done['taken']} 行（比中 {done['confirmed']}，未比中 {done['ruled_out']}，"
          f"核查中 {done['open']}）；已有记录 {done['already_recorded']} 行；未采纳 {done['not_taken_count']} 行")
    if done["not_exported"]:
        print(f"  注意：{done['not_exported']} 条结果所对应的配对未曾作为疑似导出（公安自行核查），已采纳并标记")
    for r in done["not_taken"]:
        where = f"第 {r['row']} 行" + (f"，{r['column']} 列" if r["column"] else "")
        value = f"，值 {r['value']}" if r["value"] is not None else ""
        print(f"  {where}{value}：{r['reason']}")
    return 0
