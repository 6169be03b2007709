"""Row <-> frame conversions shared by the store modules (normalized rows are stored as JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

CHUNK = 900  # ids per IN (...) list: under SQLite's bound-parameter limit everywhere


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def records_from_columns(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Column lists -> row dicts (several times faster than DataFrame.to_dict on wide rows)."""
    names = list(columns)
    return [dict(zip(names, row)) for row in zip(*columns.values())] if names else []


def jsonable_frame(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Normalized rows -> JSON-ready dicts: dates as ISO text, NaN as null, numpy scalars as Python."""
    columns: dict[str, list[Any]] = {}
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            s = s.dt.strftime("%Y-%m-%d").astype(object).where(s.notna(), None)
        elif pd.api.types.is_integer_dtype(s):
            s = s.astype(object)
        else:
            s = s.astype(object).where(s.notna(), None)
        # numpy floats/ints can survive astype(object); json needs Python ones
        columns[str(col)] = [_python(v) for v in s.tolist()]
    if not len(df.columns):
        return [{} for _ in range(len(df))]
    return records_from_columns(columns)


def frame_from_json(kind: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Stored normalized rows -> the DataFrame ingest produced (column order and dtypes)."""
    return frame_from_json_texts(kind, [json.dumps(r, ensure_ascii=False) for r in rows])


def frame_from_json_texts(kind: str, texts: Sequence[str]) -> pd.DataFrame:
    """Stored normalized rows as JSON text -> ingest's DataFrame; parsed column-wise by Arrow
    (several times faster than dicts -> DataFrame on hundreds of thousands of rows)."""
    import io

    import pyarrow as pa
    import pyarrow.json as pa_json

    from xunqin.ingest.tables import DATE_COLUMNS, FLOAT_COLUMNS, REPORT_OUTPUT, STATION_OUTPUT

    order = STATION_OUTPUT if kind == "stations" else REPORT_OUTPUT
    if not texts:
        df = pd.DataFrame({c: pd.Series([], dtype=object) for c in order})
    else:
        schema = pa.schema([pa.field(c, pa.float64() if c in FLOAT_COLUMNS else pa.int64() if c == "source_row" else pa.string())
                            for c in order])
        options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        table = pa_json.read_json(io.BytesIO("\n".join(texts).encode("utf-8")), parse_options=options)
        df = table.to_pandas()
    for col in order:
        if col in FLOAT_COLUMNS:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        elif col in DATE_COLUMNS:
            df[col] = pd.to_datetime(df[col], format="%Y-%m-%d", errors="coerce").astype("datetime64[ns]")
        elif col == "source_row":
            df[col] = pd.to_numeric(df[col], errors="coerce").fillna(0).astype("int64")
        else:
            df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df

