"""The generated sample files (data/sample) ingest cleanly, and the English CSV and the Chinese
XLSX / GB18030 versions of the same records give the same normalized tables."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest

from xunqin.ingest import ingest_files, ingest_one

SAMPLES = [
    ("stations.csv", "stations"),
    ("stations_zh.xlsx", "stations"),
    ("reports.csv", "reports"),
    ("reports_zh_gb18030.csv", "reports"),
]


def sample(name: str) -> Path:
    path = Path(str(files("xunqin.data") / "sample" / name))
    assert path.is_file(), f"sample file missing: {name} (run the sample generator)"
    return path


@pytest.mark.parametrize("name, kind", SAMPLES)
def test_sample_ingests(name: str, kind: str) -> None:
    df, rejects, counts = ingest_one(sample(name), kind)
    assert counts.rows_in == counts.rows_out + counts.rows_refused
    assert counts.rows_out > 0
    assert df[("record_id" if kind == "stations" else "report_id")].is_unique
    # The samples are clean enough that almost every value is readable.
    assert counts.values_rejected <= 0.01 * counts.rows_in * len(df.columns)
    assert not counts.ignored_columns
    if kind == "reports":  # the generator writes valid numbers, with and without dashes
        assert df["contact_phone"].notna().mean() > 0.8
        assert not (rejects["column"] == "contact_phone").any()


@pytest.mark.parametrize("english, chinese, kind", [("stations.csv", "stations_zh.xlsx", "stations"), ("reports.csv", "reports_zh_gb18030.csv", "reports")])
def test_same_records_in_every_form(english: str, chinese: str, kind: str) -> None:
    a, _, _ = ingest_one(sample(english), kind)
    b, _, _ = ingest_one(sample(chinese), kind)
    cols = [c for c in a.columns if c != "source_file"]
    assert a[cols].equals(b[cols])


def test_samples_together() -> None:
    result = ingest_files(sample("stations.csv"), sample("reports.csv"))
    assert set(result.counts) == {"stations.csv", "reports.csv"}
    assert result.stations["found_date"].notna().mean() > 0.95
    assert result.reports["name_kind"].isin(["full", "surname_only", "given_only", "nickname"]).mean() > 0.9
