"""Queue page benchmark: ``python -m benchmarks.bench_queue [--persons 10000] [--db URL]``.

Fills a database (a temporary SQLite file unless --db is given) with station persons and ten
candidates each through the store's own functions, then times the queue page (through the whole
app: auth, query, template) over repeated requests and prints median and p95 per scenario.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

STATIONS = ("长春市救助管理站", "商丘市救助管理站", "铜仁市救助管理站", "开封市救助管理站", "郑州市救助管理站",
            "成都市救助管理站", "广州市救助管理站", "哈尔滨市救助管理站")
COMPARISONS = ("name", "gender", "age", "dates", "hometown", "dialect", "found_place", "height", "id_number", "marks", "conditions")
PASSWORD = "bench-password"


def fill(url: str, persons: int, per_person: int = 10, seed: int = 1) -> None:
    """Synthetic station records and candidates, written by xunqin.store."""
    from xunqin.store import db, candidates, records, runs

    rng = np.random.default_rng(seed)
    db.upgrade(url)
    ids = [f"B{i:07d}" for i in range(persons)]
    station = rng.choice(STATIONS, persons)
    gender = rng.choice(["男", "女", None], persons, p=[0.6, 0.35, 0.05])
    age_low = rng.integers(5, 90, persons).astype(float)
    found = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 2400, persons), unit="D")
    raw = pd.DataFrame({"record_id": ids, "station": station, "gender": gender, "estimated_age": [f"约{int(a) + 2}岁" for a in age_low],
                        "found_date": found.strftime("%Y-%m-%d")})
    rows = pd.Series(np.arange(2, persons + 2))
    normalized = pd.DataFrame({"source_row": rows, "record_id": ids, "station": station, "gender": gender,
                               "age_low": age_low, "age_high": age_low + 5, "found_date": found})
    rejects = pd.DataFrame(columns=["row", "column", "value", "reason", "severity"])
    n = persons * per_person
    weights = {f"{c}_weight": np.round(rng.normal(0.5, 3.0, n), 2) for c in COMPARISONS}
    levels = {f"{c}_level": rng.choice(["else", "null", "same"], n) for c in COMPARISONS}
    score = -4.8 + sum(weights.values())
    fresh = pd.DataFrame({"station_record_id": np.repeat(ids, per_person),
                          "report_id": [f"R{i:08d}" for i in rng.integers(0, persons * 5, n)],
                          "score": np.round(score, 3), "probability": np.round(1 / (1 + 2.0 ** -score), 4),
                          "prior_weight": -4.8, **weights, **levels, "evidence": "synthetic"})
    fresh = fresh.drop_duplicates(["station_record_id", "report_id"])
    with db.sessions(url).begin() as s:
        run_id = runs.start_run(s, "bench")
        records.add_records(s, kind="stations", file_name="bench_stations.csv", content_hash=f"bench-{persons}-{seed}",
                         raw=raw, raw_rows=rows, normalized=normalized, rejects=rejects, run_id=run_id)
        candidates.apply_candidates(s, fresh, rematched_stations=ids, rematched_reports=(), top_k=per_person,
                              model_version="bench", run_id=run_id)
        runs.finish_run(s, run_id, "completed", {"persons": persons})


def _timed(client, path: str, params: dict, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        r = client.get(path, params=params)
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.status_code
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_queue")
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--db", help="an empty database URL to fill (default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from xunqin.store import db
    from xunqin.web import auth
    from xunqin.web.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        t = time.perf_counter()
        fill(url, args.persons)
        print(f"filled {args.persons} persons with candidates in {time.perf_counter() - t:.1f} s ({db.engine(url).dialect.name})")
        name = "bench-reviewer"
        with db.sessions(url).begin() as s:
            try:
                auth.add_user(s, name, PASSWORD, "reviewer")
            except ValueError:  # a --db used before
                auth.set_password(s, name, PASSWORD)
        app = create_app(url)
        client = TestClient(app, follow_redirects=False)
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        assert client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token}).status_code == 303
        t = time.perf_counter()
        client.get("/queue")  # first request after a night: rebuilds the queue index
        print(f"queue index rebuild (first request after new candidates): {(time.perf_counter() - t) * 1000:.0f} ms")
        scenarios = {
            "first page, no filter": {},
            "one station": {"station": STATIONS[0]},
            "gender + age band": {"gender": "女", "age": "60-79"},
            "status 未审": {"status": "未审"},
            "found dates + band": {"found_from": "2022-01-01", "found_to": "2023-12-31", "band": "90+"},
            "sorted by found date": {"sort": "found"},
            "page 20": {"page": "20"},
            "page 150, by waiting": {"page": "150", "sort": "waiting"},
        }
        print(f"{'scenario':<24} {'median ms':>10} {'p95 ms':>8}  (n={args.repeats})")
        worst = 0.0
        for label, params in scenarios.items():
            ms = sorted(_timed(client, "/queue", params, args.repeats))
            p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
            worst = max(worst, p95)
            print(f"{label:<24} {statistics.median(ms):>10.1f} {p95:>8.1f}")
        print(f"worst p95 {worst:.1f} ms: {'under' if worst < 300 else 'OVER'} the 300 ms target")
        db.dispose(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
