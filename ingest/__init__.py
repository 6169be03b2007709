"""Ingest of exchange files: read, validate, normalize, and list what was rejected.

``ingest_files`` returns the normalized tables, one rejects table (file, row, column, value,
reason, severity) and counts per file; ``write_result`` writes them for the next step. A file
that cannot be ingested at all raises :class:`FileRefused`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from xunqin.normalizers import clear_value_caches

from .read import FileRefused, RawTable, read_table
from .schema import Kind
from .spreadsheet import defuse_formula
from .tables import REJECT_COLUMNS, empty_rejects, normalize_reports, normalize_stations, second_process_for

__all__ = [
    "FileCounts", "FileRefused", "IngestResult", "RawTable", "ingest_files", "ingest_one", "read_table",
    "rejects_for_csv", "write_rejects_csv", "write_result",
]

REJECTS_CSV_REASON_HEADER = "原因"


@dataclass(frozen=True)
class FileCounts:
    """What happened to one file; rows_in == rows_out + rows_refused."""

    file: str
    kind: str
    rows_in: int
    rows_out: int
    rows_refused: int
    values_rejected: int
    warnings: int
    blank_rows: int
    ignored_columns: tuple[str, ...]
    encoding: str | None
    sheet: str | None
    header_row: int
    notes: tuple[str, ...]

    def summary(self) -> str:
        """One console line: counts only, never values."""
        return (
            f"{self.file} ({self.kind}): rows in {self.rows_in} / out {self.rows_out} / "
            f"refused {self.rows_refused}, values rejected {self.values_rejected}, warnings {self.warnings}"
        )


@dataclass(frozen=True, eq=False)
class IngestResult:
    """Normalized stations / reports (None when not given), rejects and counts per file."""

    stations: pd.DataFrame | None
    reports: pd.DataFrame | None
    rejects: pd.DataFrame
    counts: dict[str, FileCounts]


def ingest_one(path: str | Path, kind: Kind, pool: ProcessPoolExecutor | None = None
               ) -> tuple[pd.DataFrame, pd.DataFrame, FileCounts]:
    """Read and normalize one file: (table, rejects, counts); ``pool``: a reports file's second
    process (:func:`~xunqin.ingest.tables.second_process_for`)."""
    raw = read_table(path, kind)
    df, rejects = normalize_stations(raw) if kind == "stations" else normalize_reports(raw, pool)
    sev = rejects["severity"]
    counts = FileCounts(
        file=raw.file,
        kind=kind,
        rows_in=len(raw.data),
        rows_out=len(df),
        rows_refused=int((sev == "refused").sum()),
        values_rejected=int((sev == "error").sum()),
        warnings=int((sev == "warning").sum()),
        blank_rows=raw.blank_rows,
        ignored_columns=raw.ignored_columns,
        encoding=raw.encoding,
        sheet=raw.sheet,
        header_row=raw.header_row,
        notes=raw.notes,
    )
    if counts.rows_in != counts.rows_out + counts.rows_refused:  # an invariant, not user input
        raise AssertionError("row accounting broken")
    return df, rejects, counts


def ingest_files(stations: str | Path | None, reports: str | Path | None) -> IngestResult:
    """Ingest a stations file and/or a reports file (at least one)."""
    if stations is None and reports is None:
        raise ValueError("give a stations file, a reports file, or both")
    tables: dict[str, pd.DataFrame | None] = {"stations": None, "reports": None}
    rejects: list[pd.DataFrame] = []
    counts: dict[str, FileCounts] = {}
    with second_process_for(reports) as pool:  # forked now, while this process is small
        # The second process takes the stations file while this one reads the reports (it
        # would wait for their places otherwise): 1.5 s of size M's ingest off this process.
        done: dict[str, Future] = {}
        if pool is not None and stations is not None:
            done["stations"] = pool.submit(ingest_one, stations, "stations")
        order = (("reports", reports), ("stations", stations)) if done else (("stations", stations), ("reports", reports))
        for kind, path in order:
            if path is not None and kind not in done:
                try:
                    done[kind] = _finished(ingest_one(path, kind, pool if kind == "reports" else None))  # type: ignore[arg-type]
                except FileRefused:
                    if "stations" in done:
                        done["stations"].result()  # the stations file's refusal first, as read in order
                    raise
        for kind in ("stations", "reports"):
            if kind not in done:
                continue
            df, rj, c = done[kind].result()
            tables[kind] = df
            rejects.append(rj)
            # Same file name given twice (odd but possible): key counts by kind too.
            counts[c.file if c.file not in counts else f"{c.file} ({kind})"] = c
    # what the normalizers met in these files the next files rarely meet: their caches go
    # (250 MB at size M that the match after the ingest needs)
    clear_value_caches()
    frames = [r for r in rejects if len(r)]
    all_rejects = pd.concat(frames, ignore_index=True) if frames else empty_rejects()
    return IngestResult(tables["stations"], tables["reports"], all_rejects[list(REJECT_COLUMNS)], counts)


def _finished(value: object) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def rejects_for_csv(rejects: pd.DataFrame) -> pd.DataFrame:
    """The rejects table as rejects.csv shows it: values a spreadsheet would run defused, the
    Chinese reason headed 原因 (the other headers stay the exchange format's English ones)."""
    out = rejects.copy()
    out["value"] = out["value"].map(defuse_formula)
    return out.rename(columns={"reason_zh": REJECTS_CSV_REASON_HEADER})


def write_rejects_csv(rejects: pd.DataFrame, target: str | Path | BinaryIO) -> None:
    """rejects.csv: UTF-8 with BOM (Excel needs it), CRLF line ends. With CRLF the writer quotes
    every value holding a CR or an LF; with its default LF a lone CR went out unquoted and split
    the record in two."""
    rejects_for_csv(rejects).to_csv(target, index=False, encoding="utf-8-sig", lineterminator="\r\n")


def write_result(result: IngestResult, out_dir: str | Path) -> dict[str, Path]:
    """Write stations.parquet, reports.parquet, rejects.csv (UTF-8 BOM) and summary.json: all of
    them or, when one cannot be written (a full disk), none (:class:`OutputError` names it)."""
    from xunqin.flows.outputs import OutputSet

    out = Path(out_dir)
    written: dict[str, Path] = {}
    summary = {
        "files": [asdict(c) for c in result.counts.values()],
        "rejects": {
            "refused": int((result.rejects["severity"] == "refused").sum()),
            "error": int((result.rejects["severity"] == "error").sum()),
            "warning": int((result.rejects["severity"] == "warning").sum()),
        },
    }
    with OutputSet() as outputs:
        for kind, df in (("stations", result.stations), ("reports", result.reports)):
            if df is not None:
                written[kind] = out / f"{kind}.parquet"
                with outputs.file(written[kind]) as temp:
                    df.to_parquet(temp, index=False)
        written["rejects"] = out / "rejects.csv"
        with outputs.file(written["rejects"]) as temp:
            write_rejects_csv(result.rejects, temp)
        written["summary"] = out / "summary.json"
        with outputs.file(written["summary"]) as temp:
            temp.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return written
