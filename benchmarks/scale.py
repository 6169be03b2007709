"""Benchmark: ``xunqin match`` in report shards on a local Dask cluster, beside one process.

    python -m benchmarks.scale                      # M and L on 2 workers, one process at M (make bench-scale)
    python -m benchmarks.scale --sizes M --workers 2 --shard-size 250000
    python -m benchmarks.scale --reuse M=bench-out/quality/M-20261129   # generated files made already

Each run is the command end to end (reading the exchange CSVs, ingest, matching, writing the
candidates) in a fresh process; its wall time, the candidates' pairs and recall@10 against the
generator's truth, and the peak memory of its whole process tree (the command, the local Prefect
server, the Dask scheduler and workers), sampled every 0.2 s (psutil): the sum of their
proportional set sizes (PSS, the physical memory they hold; ``peak GB``) and of their resident
sets (``RSS GB``, which counts a page shared by two processes twice), are printed.
At M the sharded candidates are compared with the single process's.
Sizes: M 10,000 x 500,000; L 20,000 x 2,000,000 (data/generate.py, seed 20261129).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from benchmarks.child import TreePeak

SIZES = {"S": (2_000, 50_000), "M": (10_000, 500_000), "L": (20_000, 2_000_000)}
SEED = 20261129


def generated(size: str, out: Path) -> Path:
    """Exchange CSVs and the truth for ``size`` under ``out`` (made once, then reused)."""
    stamp = out / "generated.json"
    n_s, n_r = SIZES[size]
    if stamp.exists() and json.loads(stamp.read_text()).get("size") == [n_s, n_r]:
        return out
    from xunqin.data.generate import generate

    raw = out / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    gen = generate(n_s, n_r, seed=SEED)
    gen.stations.to_csv(raw / "stations.csv", index=False)
    gen.reports.to_csv(raw / "reports.csv", index=False)
    gen.truth.to_csv(out / "truth.csv", index=False)
    stamp.write_text(json.dumps({"size": [n_s, n_r], "seed": SEED, "seconds": round(time.perf_counter() - started, 1)}))
    return out


def run_command(args: list[str], log: Path) -> dict:
    """The command in a child process; wall time and the peak memory of its tree (PSS summed,
    and RSS summed, which counts shared pages twice)."""
    started = time.perf_counter()
    with log.open("w") as err:
        child = subprocess.Popen([sys.executable, "-m", "xunqin.flows.cli", *args], stdout=err, stderr=err)
        with TreePeak(child.pid) as peak:
            code = child.wait()
    return {"exit": code, "seconds": round(time.perf_counter() - started, 1), "peak_gb": round(peak.bytes / 2**30, 2),
            "peak_rss_gb": round(peak.rss_bytes / 2**30, 2)}


def figures(candidates_path: Path, truth: pd.DataFrame) -> dict:
    from xunqin.matching.evaluation import ranking_metrics

    candidates = pd.read_csv(candidates_path, dtype={"station_record_id": str, "report_id": str})
    metrics = ranking_metrics(candidates, truth, k=10)
    return {"candidates": len(candidates), "recall_at_1": round(metrics.recall_at_1, 4),
            "recall_at_10": round(metrics.recall_at_10, 4)}


def pairs_from_log(log: Path) -> int | None:
    for line in log.read_text(errors="replace").splitlines():
        if "candidate pairs" in line:
            digits = line.split("scored ")[-1].split(" candidate")[0].replace(",", "")
            if digits.isdigit():
                return int(digits)
    return None


def same_candidates(a: Path, b: Path) -> dict:
    x = pd.read_csv(a, dtype=str, keep_default_na=False)
    y = pd.read_csv(b, dtype=str, keep_default_na=False)
    key = ["station_record_id", "report_id", "rank"]
    same = len(x) == len(y) and x[key].equals(y[key])
    diff = float(np.max(np.abs(x["score"].astype(float).to_numpy() - y["score"].astype(float).to_numpy()))) if same else None
    return {"same_pairs_and_ranks": same, "max_score_difference": diff,
            "same_duplicates": bool(same and x["duplicate_report_ids"].equals(y["duplicate_report_ids"]))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["M", "L"], choices=sorted(SIZES))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shard-size", type=int, default=None, help="reports per shard (default: the command's)")
    parser.add_argument("--single-at", nargs="*", default=["M"], help="sizes also run in one process (default M)")
    parser.add_argument("--work", type=Path, default=Path("bench-out/scale"))
    parser.add_argument("--reuse", action="append", default=[], metavar="SIZE=DIR",
                        help="a folder holding raw/stations.csv, raw/reports.csv and truth.csv of that size")
    options = parser.parse_args(argv)
    reuse = dict(item.split("=", 1) for item in options.reuse)
    rows = []
    for size in options.sizes:
        data = Path(reuse[size]) if size in reuse else generated(size, options.work / f"{size}-{SEED}")
        truth = pd.read_csv(data / "truth.csv", dtype=str)
        out = options.work / f"{size}-runs"
        out.mkdir(parents=True, exist_ok=True)
        runs = [("one process", [])] if size in options.single_at else []
        sharded = ["--workers", str(options.workers)] + (["--shard-size", str(options.shard_size)] if options.shard_size else [])
        runs.append((f"dask {options.workers} workers", sharded))
        outputs = {}
        for label, extra in runs:
            target = out / f"candidates-{label.split()[0]}.csv"
            log = out / f"{label.split()[0]}.log"
            args = ["match", "--stations", str(data / "raw" / "stations.csv"), "--reports",
                    str(data / "raw" / "reports.csv"), "--out", str(target), *extra]
            print(f"[{size}] {label}: xunqin {' '.join(args)}", flush=True)
            result = run_command(args, log)
            row = {"size": size, "run": label, **result, "pairs": pairs_from_log(log)}
            if result["exit"] == 0:
                row.update(figures(target, truth))
                outputs[label] = target
            rows.append(row)
            print(f"[{size}] {label}: {json.dumps(row)}", flush=True)
        if len(outputs) == 2:
            one, many = outputs.values()
            compared = same_candidates(one, many)
            print(f"[{size}] sharded vs one process: {json.dumps(compared)}", flush=True)
            rows.append({"size": size, "run": "comparison", **compared})
    print()
    print(f"{'size':5}{'run':20}{'wall s':>9}{'peak GB':>9}{'RSS GB':>9}{'pairs':>14}{'recall@10':>11}")
    for row in rows:
        if row["run"] == "comparison":
            print(f"{row['size']:5}{'same candidates':20}{str(row['same_pairs_and_ranks']):>9}"
                  f"   max score difference {row['max_score_difference']}")
            continue
        pairs = f"{row['pairs']:,}" if row.get("pairs") else "-"
        print(f"{row['size']:5}{row['run']:20}{row['seconds']:>9}{row['peak_gb']:>9}{row.get('peak_rss_gb', '-'):>9}{pairs:>14}"
              f"{row.get('recall_at_10', float('nan')):>11}")
    by_size = {}
    for row in rows:
        if row["run"] != "comparison":
            by_size.setdefault(row["size"], {})[row["run"]] = row["seconds"]
    for size, runs in by_size.items():
        if "one process" in runs and len(runs) == 2:
            sharded = next(v for k, v in runs.items() if k != "one process")
            print(f"{size}: sharded / one process wall time = {sharded / runs['one process']:.2f}")
    return 0 if all(r.get("exit", 0) == 0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
