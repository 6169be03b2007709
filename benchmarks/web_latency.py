"""Search and family-form latency through the whole app, at size M, on SQLite or PostgreSQL.

    python benchmarks/web_latency.py --work bench-out/web-M                 # SQLite file in the work folder
    python benchmarks/web_latency.py --db postgresql://... --work bench-out/web-M-pg

The database is loaded as a night would load it: the generator's station records and reports
(10,000 x 500,000 at M, seed 20261129) taken by the nightly steps (ingest with the search index,
then one match that trains and stores the model), and the stations put on the list. A loaded
base is reused by the next run (SQLite: ``WORK/base.db``; PostgreSQL: the database holds it).
Then a reviewer logs in and the timed requests go through the app (auth, query, template, audit
row): searches by misheard names, names as written, ID tails and full ID numbers, record numbers,
places, date ranges and combinations; and the family form (寻亲登记) for cases written from
reports of the generator's truth (the first request, which prepares the station records, is
reported apart). Prints median and p95 per scenario, and whether the targets hold (search p95
< 1 s, family form p95 < 2 s). It asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

SIZES = {"S": (2_000, 50_000), "M": (10_000, 500_000)}
SEED = 20261129
PASSWORD = "bench-password-1"
SEARCH_TARGET_MS = 1000
FAMILY_TARGET_MS = 2000
# dialect confusions of a surname (same folded sound) and plain homophones, as heard on the phone
MISHEARD = {"刘": "牛", "牛": "刘", "黄": "方", "张": "臧", "陈": "岑", "王": "万", "林": "凌", "李": "黎", "杨": "阳",
            "吴": "胡", "胡": "吴", "徐": "许", "许": "徐", "郑": "正", "周": "州", "孙": "荪", "赵": "召", "朱": "珠"}


def _load(url: str, size: str, work: Path) -> dict[str, float]:
    """Generate and take the base through the night's steps (skipped when the database holds it)."""
    import sqlalchemy as sa

    from xunqin.data.generate import generate, write
    from xunqin.flows import steps
    from xunqin.store import db, stations

    n_s, n_r = SIZES[size]
    db.upgrade(url)
    with db.sessions(url)() as s:
        held = s.scalar(sa.text("SELECT count(*) FROM station_records WHERE is_current"))
        models = s.scalar(sa.text("SELECT count(*) FROM models"))
    files = work / "files"
    if held == n_s and models and (files / "truth.csv").exists():
        return {"reused": 1.0}
    if held:
        raise SystemExit(f"{url} holds {held} station records, not the {n_s} of size {size}: give an empty database")
    figures: dict[str, float] = {}
    t = time.perf_counter()
    paths = write(generate(n_s, n_r, seed=SEED), files, tables=("stations", "reports", "truth"))
    shutil.copy(paths["reports"], files / "reports-copy.csv")  # take_file moves its file to the archive
    shutil.copy(paths["stations"], files / "stations-copy.csv")
    figures["generate_s"] = round(time.perf_counter() - t, 1)
    for kind in ("stations", "reports"):
        t = time.perf_counter()
        out = steps.take_file(url, str(files / f"{kind}-copy.csv"), str(work / "archive"), str(work / "quarantine"), None)
        if out["status"] != "taken":
            raise SystemExit(f"{kind}: {out['status']} {out['reason']}")
        figures[f"ingest_{kind}_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    steps.match_pending(url, run_id=None)
    db.checkpoint(url)
    figures["match_s"] = round(time.perf_counter() - t, 1)
    with db.sessions(url).begin() as s:
        stations.seed_from_records(s)
    return figures


def _client(url: str):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from xunqin.store import db
    from xunqin.web import auth
    from xunqin.web.app import create_app

    name = "bench-reviewer"
    with db.sessions(url).begin() as s:
        try:
            auth.add_user(s, name, PASSWORD, "reviewer")
        except ValueError:  # a database used before
            auth.set_password(s, name, PASSWORD)
    client = TestClient(create_app(url), follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token}).status_code == 303
    return client


def _queries(work: Path, n: int, rng: random.Random) -> dict[str, list[dict[str, str]]]:
    """Search parameters per scenario, drawn from the generated files."""
    from xunqin.normalizers.names import parse_name
    from xunqin.normalizers.places import division, parse_place

    files = work / "files"
    st = pd.read_csv(files / "stations.csv", dtype=str, keep_default_na=False)
    rp = pd.read_csv(files / "reports.csv", dtype=str, keep_default_na=False)

    def sample(values: list[str]) -> list[str]:
        return rng.sample(values, min(n, len(values)))

    full_names = [p for p in (parse_name(x) for x in st["name"].tolist() + rp["name"].sample(20_000, random_state=1).tolist())
                  if p.kind == "full" and p.given]
    misheard = [MISHEARD[p.surname] + p.given for p in full_names if p.surname in MISHEARD]
    ids = [x for x in rp["id_number"] if len(x) == 18]
    places = []
    for text in sample(rp["hometown"].tolist()):
        place = parse_place(text)
        if place and place.candidates:
            d = place.candidates[0]
            places.append(division(d.prefecture).name if d.prefecture else division(d.province).name)
    provinces = [division(parse_place(t).candidates[0].province).name for t in sample(rp["hometown"].tolist())  # type: ignore[union-attr]
                 if parse_place(t) and parse_place(t).candidates]  # type: ignore[union-attr]
    days = pd.date_range("2015-01-01", "2026-06-30", freq="D")

    def window(length: int) -> dict[str, str]:
        start = days[rng.randrange(len(days))]
        return {"date_from": start.date().isoformat(), "date_to": (start + pd.Timedelta(days=length)).date().isoformat()}

    return {
        "name as heard (dialect/homophone)": [{"name": x} for x in sample(misheard)],
        "name as written": [{"name": p.clean} for p in rng.sample(full_names, min(n, len(full_names)))],
        "ID number tail (4)": [{"id_number": x[-4:]} for x in sample(ids)],
        "full ID number": [{"id_number": x} for x in sample(ids)],
        "record / report number": [{"number": x} for x in sample(st["record_id"].tolist() + rp["report_id"].tolist())],
        "place (prefecture)": [{"place": x} for x in places[:n]],
        "date range (90 days)": [window(90) for _ in range(n)],
        "name heard + province": [{"name": a, "place": b} for a, b in zip(sample(misheard), provinces)],
        "province + date range (1 year)": [{"place": b, **window(365)} for b in provinces[:n]],
    }


def _family_cases(work: Path, n: int, rng: random.Random) -> list[tuple[str, dict[str, str]]]:
    from xunqin.web.family import FIELDS

    files = work / "files"
    truth = pd.read_csv(files / "truth.csv", dtype=str, keep_default_na=False)
    truth = truth[truth["report_id"] != ""]
    reports = pd.read_csv(files / "reports.csv", dtype=str, keep_default_na=False).set_index("report_id")
    out = []
    for pair in truth.sample(min(n, len(truth)), random_state=rng.randrange(1 << 30)).itertuples():
        r = reports.loc[pair.report_id]
        if isinstance(r, pd.DataFrame):
            r = r.iloc[0]
        out.append((pair.station_record_id, {key: str(r.get(column, "")) for key, (column, _, _) in FIELDS.items()}))
    return out


def _ms(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def run(url: str, size: str, work: Path, repeats: int) -> dict[str, object]:
    from xunqin.store import db

    rng = random.Random(SEED)
    figures: dict[str, object] = {"size": size, "db": db.engine(url).dialect.name, "load": _load(url, size, work)}
    client = _client(url)
    client.get("/search", params={"name": "张伟"})  # imports and reference tables loaded, as in a running server
    searches: dict[str, tuple[float, float, int]] = {}
    every: list[float] = []
    for label, queries in _queries(work, repeats, rng).items():
        times = []
        for params in queries:
            t = time.perf_counter()
            r = client.get("/search", params=params)
            times.append((time.perf_counter() - t) * 1000)
            if r.status_code not in (200, 400):
                raise SystemExit(f"search {label}: HTTP {r.status_code}")
        median, p95 = _ms(times)
        searches[label] = (median, p95, len(times))
        every += times
    figures["search"] = searches
    figures["search_all"] = _ms(every)

    cases = _family_cases(work, repeats + 1, rng)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/family").text).group(1)
    times, first, ranked_first = [], None, 0
    for true_id, form in cases:
        t = time.perf_counter()
        r = client.post("/family", data={**form, "csrf_token": token})
        ms = (time.perf_counter() - t) * 1000
        if r.status_code != 200:
            raise SystemExit(f"family form: HTTP {r.status_code}")
        shown = re.findall(r'<details class="cand" data-station-record="([^"]+)"', r.text)
        ranked_first += bool(shown) and shown[0] == true_id
        if first is None:
            first = ms
        else:
            times.append(ms)
    figures["family_first_ms"] = round(first or 0, 1)
    figures["family"] = (*_ms(times), len(times))
    figures["family_true_first_share"] = round(ranked_first / len(cases), 3)
    db.dispose(url)
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/web_latency.py", description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="M")
    ap.add_argument("--db", help="an empty (or earlier loaded) database URL; default a SQLite file in the work folder")
    ap.add_argument("--work", help="work folder (kept: the generated files and, for SQLite, the loaded base)")
    ap.add_argument("--repeats", type=int, default=40, help="requests per scenario (default 40)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="xunqin-web-bench-") as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        url = args.db or f"sqlite:///{work / 'base.db'}"
        figures = run(url, args.size, work, args.repeats)
    n_s, n_r = SIZES[args.size]
    print(f"== web latency, size {args.size} ({n_s:,} station records x {n_r:,} reports), {figures['db']} ==")
    print(f"load: {json.dumps(figures['load'])}")
    print(f"{'search scenario':<34} {'median ms':>10} {'p95 ms':>8} {'n':>4}")
    for label, (median, p95, n) in figures["search"].items():  # type: ignore[union-attr]
        print(f"{label:<34} {median:>10.1f} {p95:>8.1f} {n:>4}")
    median, p95 = figures["search_all"]  # type: ignore[misc]
    print(f"{'all searches':<34} {median:>10.1f} {p95:>8.1f}   -> p95 {'under' if p95 < SEARCH_TARGET_MS else 'OVER'} {SEARCH_TARGET_MS} ms")
    f_median, f_p95, f_n = figures["family"]  # type: ignore[misc]
    print(f"{'family form (寻亲登记)':<30} {f_median:>10.1f} {f_p95:>8.1f} {f_n:>4}   -> p95 "
          f"{'under' if f_p95 < FAMILY_TARGET_MS else 'OVER'} {FAMILY_TARGET_MS} ms")
    print(f"family form, first request (prepares the station records): {figures['family_first_ms']} ms; "
          f"true person ranked first in {figures['family_true_first_share']:.1%} of the cases")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
