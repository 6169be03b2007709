"""Benchmark: generated data at sizes S and M, xunqin beside Splink, figures printed.

    python -m benchmarks.matcher                 # S and M (what `make bench` runs), from the repo root
    python -m benchmarks.matcher --sizes S       # one size
    python -m benchmarks.matcher --no-splink     # xunqin only

Each matcher runs in its own fresh process on the same normalized tables, so wall time and peak
memory (that child's max RSS, read by the parent from ``os.wait4``) are its own; generation and
ingest are timed separately.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python benchmarks/matcher.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

SIZES = {"S": (2_000, 50_000), "M": (10_000, 500_000)}
SEED = 20261129


def prepare_data(size: str, out: Path) -> dict:
    """Generate, write as an exchange CSV, ingest to normalized Parquet (cached per size)."""
    from xunqin.data.generate import GeneratorParams, generate, write
    from xunqin.ingest import ingest_files, write_result

    n_stations, n_reports = SIZES[size]
    stamp = out / "prepared.json"
    if stamp.exists():
        info = json.loads(stamp.read_text())
        if info.get("seed") == SEED and info.get("size") == [n_stations, n_reports] and info.get(
                "model") == GeneratorParams().model:
            info["cached"] = True
            return info
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    generated = generate(n_stations, n_reports, seed=SEED)
    t1 = time.perf_counter()
    paths = write(generated, out / "raw", headers="en", fmt="csv", encoding="utf-8")
    generated.truth.to_csv(out / "truth.csv", index=False)
    t2 = time.perf_counter()
    result = ingest_files(stations=paths["stations"], reports=paths["reports"])
    t3 = time.perf_counter()
    write_result(result, out / "normalized")
    info = {
        "size": [n_stations, n_reports],
        "seed": SEED,
        "model": GeneratorParams().model,
        "generate_s": round(t1 - t0, 1),
        "write_s": round(t2 - t1, 1),
        "ingest_s": round(t3 - t2, 1),
        "rejected_values": int(len(result.rejects)),
        "cached": False,
    }
    stamp.write_text(json.dumps(info))
    return info


def _load(data: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    stations = pd.read_parquet(data / "normalized" / "stations.parquet")
    reports = pd.read_parquet(data / "normalized" / "reports.parquet")
    truth = pd.read_csv(data / "truth.csv", dtype=str)
    return stations, reports, truth


def _ranking_figures(candidates: pd.DataFrame, truth: pd.DataFrame) -> dict:
    from xunqin.matching.evaluation import metrics_by_group, ranking_metrics

    overall = ranking_metrics(candidates, truth, k=10)
    groups = metrics_by_group(candidates, truth, group_col="name_category", k=10)
    by_group = {str(g): float(r) for g, r in zip(groups["name_category"], groups["recall_at_10"])}
    return {
        "queries": overall.n_queries,
        "recall_at_1": overall.recall_at_1,
        "recall_at_10": overall.recall_at_10,
        "mrr": overall.mrr,
        "recall_at_10_by_name": by_group,
    }


def average_precision_codes(codes: np.ndarray, scores: np.ndarray, true_codes: np.ndarray) -> float:
    """AP of all scored pairs ranked by score; true pairs never scored count as misses."""
    order = np.argsort(-scores, kind="stable")
    relevant = np.isin(codes[order], true_codes)
    hits = np.cumsum(relevant)
    precision_at_hits = hits[relevant] / (np.flatnonzero(relevant) + 1)
    return float(precision_at_hits.sum() / max(len(np.unique(true_codes)), 1))


def run_xunqin(data: Path) -> dict:
    from xunqin.matching.pipeline import match

    stations, reports, truth = _load(data)
    t0 = time.perf_counter()
    result = match(stations, reports, keep_scored_pairs=True)
    seconds = time.perf_counter() - t0
    figures = _ranking_figures(result.candidates, truth)
    # pair completeness per pass and for the union, in row positions
    s_pos = pd.Series(np.arange(len(stations)), index=stations["record_id"].astype(str))
    r_pos = pd.Series(np.arange(len(reports)), index=reports["report_id"].astype(str))
    known = truth["station_record_id"].isin(s_pos.index) & truth["report_id"].isin(r_pos.index)
    t = truth[known]
    codes = s_pos[t["station_record_id"]].to_numpy() * len(reports) + r_pos[t["report_id"]].to_numpy()
    completeness = {
        name: float(np.isin(codes, pass_codes).mean()) for name, pass_codes in result.blocked.pass_codes.items()
    }
    union = result.blocked.station_rows * len(reports) + result.blocked.report_rows
    completeness["union"] = float(np.isin(codes, union).mean())
    pass_pairs = {s.name: s.pairs for s in result.blocked.passes}
    pairs = result.scored_pairs
    pair_codes = pairs["station_row"].to_numpy() * len(reports) + pairs["report_row"].to_numpy()
    figures.update(
        {
            "average_precision": average_precision_codes(pair_codes, pairs["score"].to_numpy(), codes),
            "pairs": int(result.blocked.n_pairs),
            "pass_pairs": pass_pairs,
            "pair_completeness": completeness,
            "seconds": round(seconds, 1),
            "timings": result.timings,
        }
    )
    return figures


def run_splink(data: Path) -> dict:
    from benchmarks.splink_baseline import run_splink as splink

    stations, reports, truth = _load(data)
    t0 = time.perf_counter()
    result = splink(stations, reports, top_k=10, threads=2)
    seconds = time.perf_counter() - t0
    figures = _ranking_figures(result.candidates, truth)
    figures.update({"pairs": int(result.n_pairs), "seconds": round(seconds, 1)})
    return figures


def _subprocess(system: str, data: Path) -> dict:
    """One matcher in a fresh process; its peak memory is that of its process tree (sampled)."""
    from benchmarks.child import run_module

    out = data / f"{system}.json"
    done = run_module("benchmarks.matcher", "--run", system, "--data", str(data.resolve()))
    if done.returncode != 0:
        return {"error": done.stderr_tail.splitlines()[-1] if done.stderr_tail else "failed"}
    figures = json.loads(out.read_text())
    # the tree is sampled (a short peak may fall between samples); the child's own mark is exact
    figures["peak_mb"] = round(max(done.tree_peak_mb, done.max_rss_mb))
    figures["own_peak_mb"] = round(done.max_rss_mb)
    figures["tree_rss_peak_mb"] = round(done.tree_rss_peak_mb)
    return figures


def _print_table(size: str, info: dict, results: dict[str, dict]) -> None:
    n_s, n_r = info["size"]
    print(f"\n== size {size}: {n_s:,} station records x {n_r:,} reports (seed {info['seed']}) ==")
    cached = " (cached from an earlier run)" if info.get("cached") else ""
    print(f"generate {info['generate_s']} s, write {info['write_s']} s, ingest {info['ingest_s']} s{cached}")
    rows = [
        ("station records with a true report", "queries", "{:,}"),
        ("recall@1", "recall_at_1", "{:.3f}"),
        ("recall@10", "recall_at_10", "{:.3f}"),
        ("MRR", "mrr", "{:.3f}"),
        ("average precision (all pairs)", "average_precision", "{:.3f}"),
        ("pairs compared", "pairs", "{:,}"),
        ("wall time, s", "seconds", "{}"),
        ("peak memory, MB", "peak_mb", "{:,}"),
    ]
    systems = list(results)
    print(f"{'':44}" + "".join(f"{s:>14}" for s in systems))
    for label, key, fmt in rows:
        cells = []
        for s in systems:
            value = results[s].get(key)
            cells.append(fmt.format(value) if value is not None else "-")
        print(f"{label:44}" + "".join(f"{c:>14}" for c in cells))
    groups = sorted({g for r in results.values() for g in r.get("recall_at_10_by_name", {})})
    for group in groups:
        cells = [results[s].get("recall_at_10_by_name", {}).get(group) for s in systems]
        print(f"{'recall@10, station name: ' + group:44}" + "".join(
            f"{c:>14.3f}" if c is not None else f"{'-':>14}" for c in cells))
    for s in systems:
        if "error" in results[s]:
            print(f"{s} failed: {results[s]['error']}")
    x = results.get("xunqin", {})
    if "pair_completeness" in x:
        print("blocking pass                  pairs        pair completeness")
        for name, value in x["pair_completeness"].items():
            pairs = x["pass_pairs"].get(name, x["pairs"])
            print(f"  {name:26}{pairs:>12,}{value:>12.3f}")
        print(f"xunqin step timings, s: {x['timings']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.matcher", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="S,M")
    parser.add_argument("--out", default="bench-out")
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--run", choices=["xunqin", "splink"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:  # child process: one matcher on one prepared size
        data = Path(args.data)
        figures = run_xunqin(data) if args.run == "xunqin" else run_splink(data)
        (data / f"{args.run}.json").write_text(json.dumps(figures, ensure_ascii=False, indent=1))
        from benchmarks.child import report_peak_memory

        report_peak_memory()
        return 0
    for size in args.sizes.split(","):
        data = Path(args.out) / size
        info = prepare_data(size, data)
        results = {"xunqin": _subprocess("xunqin", data)}
        if not args.no_splink:
            results["splink"] = _subprocess("splink", data)
        _print_table(size, info, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
