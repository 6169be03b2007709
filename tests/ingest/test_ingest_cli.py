"""The ``xunqin`` command line: ingest output, refusals, and the match sub-command's wiring."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest
from ingest_helpers import REPORT_HEADER_ZH, STATION_HEADER_ZH, bad_check, make_id, station_row, write_csv

from xunqin.flows.cli import main

SECRET_ID = make_id("411623", "19630315", "031")
PHONE = "13912345678"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    s = write_csv(tmp_path / "stations.csv", [
        ["序号", *STATION_HEADER_ZH],
        ["1", *station_row("S1", name="测试甲", id_number=SECRET_ID, notes="住址:测试路1号")],
        ["2", *station_row("S2", name="测试乙", id_number=bad_check(SECRET_ID))],
        ["3", *station_row("S2", name="测试丙")],
    ])
    r = write_csv(tmp_path / "reports.csv", [
        REPORT_HEADER_ZH,
        ["R1", "家属", "测试丁", "小红", "女", "1965", "50", "", "2015-03-02", "", "河南周口", "", "", PHONE],
    ])
    return s, r


PERSONAL = ("测试甲", "测试乙", "测试丙", "测试丁", "小红", SECRET_ID, SECRET_ID[:-1], PHONE, "测试路")


def test_ingest_both(files, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s, r = files
    out = tmp_path / "out"
    assert main(["ingest", "--stations", str(s), "--reports", str(r), "--out", str(out)]) == 0
    text = capsys.readouterr()
    assert "stations.csv (stations): rows in 3 / out 2 / refused 1, values rejected 1" in text.out
    assert "reports.csv (reports): rows in 1 / out 1 / refused 0, values rejected 0" in text.out
    assert "ignored columns: 序号" in text.out
    for secret in PERSONAL:
        assert secret not in text.out + text.err
    assert sorted(p.name for p in out.iterdir()) == ["rejects.csv", "reports.parquet", "stations.parquet", "summary.json"]
    # The rejects report shows the bad value as far as the station needs it to find the record:
    # an ID number masked (first 6, last 4), with the reason in Chinese beside the code.
    rejects = (out / "rejects.csv").read_text(encoding="utf-8-sig")
    assert bad_check(SECRET_ID) not in rejects and SECRET_ID[:-1] not in rejects
    assert f"{SECRET_ID[:6]}********{bad_check(SECRET_ID)[-4:]},check digit,身份证号校验位不对,error" in rejects
    assert rejects.splitlines()[0] == "file,row,column,value,reason,原因,severity"


@pytest.mark.parametrize("which", ["--stations", "--reports"])
def test_ingest_one_file(files, tmp_path: Path, which: str, capsys: pytest.CaptureFixture[str]) -> None:
    s, r = files
    path = s if which == "--stations" else r
    assert main(["ingest", which, str(path), "--out", str(tmp_path / "o")]) == 0
    assert len([ln for ln in capsys.readouterr().out.splitlines() if "rows in" in ln]) == 1


# (file content, expected column in the one-line message, reason fragment)
REFUSALS = [
    (b"", "-", "empty file"),
    ("编号,救助站,姓名\nS1,站,测试甲\n".encode(), "found_date", "required column missing"),
    ("编号,救助站,救助日期,姓名,姓名\n".encode(), "name", "duplicate header"),
    ("编号,救助站,救助日期\n".encode("utf-16"), "-", "UTF-16"),
    (b"record_id,station,found_date\nS1,Caf\xe9,2023\n", "-", "encoding"),
]


@pytest.mark.parametrize("content, column, why", REFUSALS)
def test_refused_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, column: str, why: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    assert main(["ingest", "--stations", str(bad), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"xunqin: {bad}: {column}: ") and why in err
    assert "测试甲" not in err
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_refused_second_file_refuses_the_run(files, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s, _ = files
    missing = tmp_path / "nope.csv"
    assert main(["ingest", "--stations", str(s), "--reports", str(missing), "--out", str(tmp_path / "o")]) == 1
    assert capsys.readouterr().err == f"xunqin: {missing}: -: file not found\n"


@pytest.mark.parametrize(
    "argv, code",
    [
        (["ingest", "--out", "o"], 2),  # neither file
        (["ingest", "--stations", "s.csv"], 2),  # no --out
        ([], 2),
        (["frobnicate"], 2),
        (["--help"], 0),
        (["match", "--stations", "s", "--reports", "r", "--out", "c.csv", "--top-k", "0"], 2),
        (["match", "--stations", "s", "--reports", "r", "--out", "c.csv", "--top-k", "ten"], 2),
        (["match", "--stations", "s", "--out", "c.csv"], 2),
    ],
)
def test_usage_errors(argv: list[str], code: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == code


@pytest.fixture
def fake_match(monkeypatch: pytest.MonkeyPatch) -> list:
    calls: list = []
    module = types.ModuleType("xunqin.flows.match_command")

    def run(args) -> int:
        calls.append(args)
        if str(args.stations).endswith("refuse.csv"):
            from xunqin.ingest import FileRefused

            raise FileRefused(str(args.stations), "station", "required column missing (救助站 / station)")
        return 3

    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "xunqin.flows.match_command", module)
    import xunqin.flows

    monkeypatch.setattr(xunqin.flows, "match_command", module, raising=False)
    return calls


@pytest.mark.parametrize("extra, top_k", [([], None), (["--top-k", "3"], 3), (["--top-k", "100"], 100)])
def test_match_delegates(fake_match: list, extra: list[str], top_k: int) -> None:
    assert main(["match", "--stations", "s.csv", "--reports", "r.csv", "--out", "c.csv", *extra]) == 3
    (args,) = fake_match
    assert (str(args.stations), str(args.reports), str(args.out), args.top_k) == ("s.csv", "r.csv", "c.csv", top_k)


def test_match_refusal_is_one_line(fake_match: list, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["match", "--stations", "refuse.csv", "--reports", "r.csv", "--out", "c.csv"]) == 1
    assert capsys.readouterr().err == "xunqin: refuse.csv: station: required column missing (救助站 / station)\n"


def test_installed_entry_point(files, tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "xunqin"
    assert exe.exists(), "the xunqin console script is not installed in this environment"
    s, r = files
    ok = subprocess.run([str(exe), "ingest", "--stations", str(s), "--reports", str(r), "--out", str(tmp_path / "o")],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "rows in 3 / out 2 / refused 1" in ok.stdout
    bad = tmp_path / "bad.csv"
    bad.write_bytes("编号,姓名\n1,测试甲\n".encode("gb18030"))
    refused = subprocess.run([str(exe), "ingest", "--stations", str(bad), "--out", str(tmp_path / "o2")],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [f"xunqin: {bad}: station: required column missing (救助站 / station)"]
    assert "Traceback" not in refused.stderr
