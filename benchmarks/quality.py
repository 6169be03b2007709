"""Match quality that can tell us we are wrong: several seeds, a perturbation suite, weak groups,
xunqin beside a Splink baseline given the same derived keys, peak memory per matcher process.

    python -m benchmarks.quality                                  # size S, every seed, every perturbation
    python -m benchmarks.quality --size M --seeds never-tuned     # what issue 11's targets are read on
    python -m benchmarks.quality --size S --seeds 20261129 --perturbations none --no-splink   # quick

Data come from the generator's independent model (``data/GENERATOR.md``), made at run time per
size and seed under ``--out`` (reused while the generator and the seed are the same). Every matcher
run is a fresh child process (``benchmarks.child``): its wall time is its own, its peak memory
that of its process tree.
On the clean data, three columns: ``xunqin`` (the matcher on the normalized tables), ``xunqin
match`` (the command end to end on the raw exchange files: reading, normalizing, matching,
writing the CSV) and ``splink`` (on the normalized tables, given the same derived keys).
A perturbation corrupts one field family of the same records (``benchmarks.perturb``); recall is
printed overall and on the records it touched, beside the clean run. The script prints figures
and asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

if __package__ in (None, ""):  # run as a file: python benchmarks/quality.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES = {"S": (2_000, 50_000), "M": (10_000, 500_000)}
# Seeds whose figures may be looked at while changing the matcher.
TUNING_SEEDS = (20261129, 4242)
# NEVER use this seed for tuning: do not read its figures while changing settings, blocking or
# comparisons; run it only to report. Its figures are the honest ones.
NEVER_TUNED_SEED = 90417
SEEDS = (*TUNING_SEEDS, NEVER_TUNED_SEED)
GROUPS = ("written_right", "dialect", "southern_accent", "nickname", "given_only", "surname_only",
          "other_surname", "dropped_char", "no_name")


# ---------------------------------------------------------------- data


def _generator_fingerprint() -> str:
    """Changes when the generator's code or reference files change (then data are made again)."""
    root = Path(__file__).resolve().parents[1] / "data"
    h = hashlib.sha256()
    for path in sorted([*root.glob("generate*.py"), *root.glob("gen_*.csv"), root / "divisions.csv"]):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    perturb = Path(__file__).with_name("perturb.py")
    h.update(perturb.read_bytes())
    return h.hexdigest()[:16]


def _ingest_rows(frame: pd.DataFrame, kind: str, work: Path) -> pd.DataFrame:
    from xunqin.ingest import ingest_one

    work.mkdir(parents=True, exist_ok=True)
    path = work / f"{kind}.csv"
    frame.to_csv(path, index=False, encoding="utf-8")
    df, _, _ = ingest_one(path, kind)  # type: ignore[arg-type]
    path.unlink()
    return df


def prepare(size: str, seed: int, out: Path, perturbations: list[str]) -> dict:
    """Generate, ingest the clean tables and every perturbed variant; cached under ``out``."""
    from benchmarks.perturb import PERTURBATIONS
    from xunqin.data.generate import generate
    from xunqin.ingest import ingest_files, write_result

    n_s, n_r = SIZES[size]
    fingerprint = _generator_fingerprint()
    stamp = out / "prepared.json"
    info = json.loads(stamp.read_text()) if stamp.exists() else {}
    if info.get("fingerprint") != fingerprint:
        info = {"fingerprint": fingerprint, "size": [n_s, n_r], "seed": seed, "variants": {}}
    todo = [p for p in perturbations if p not in info["variants"]]
    if info.get("clean") and not todo:
        return info
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    gen = generate(n_s, n_r, seed=seed)
    info["generate_s"] = round(time.perf_counter() - t, 1)
    if not info.get("clean"):
        raw = out / "raw"
        raw.mkdir(exist_ok=True)
        gen.stations.to_csv(raw / "stations.csv", index=False)
        gen.reports.to_csv(raw / "reports.csv", index=False)
        gen.truth.to_csv(out / "truth.csv", index=False)
        t = time.perf_counter()
        result = ingest_files(stations=raw / "stations.csv", reports=raw / "reports.csv")
        info["ingest_s"] = round(time.perf_counter() - t, 1)
        write_result(result, out / "normalized")
        del result
        info["clean"] = True
    for k, name in enumerate(todo):
        t = time.perf_counter()
        rng = np.random.default_rng([seed, k, 7])
        perturbed = PERTURBATIONS[name](gen, rng)
        vdir = out / "variants" / name
        vdir.mkdir(parents=True, exist_ok=True)
        reports = perturbed.reports_changed
        if perturbed.drop_surname_readings:  # the rows the missing reading changes are re-read too
            first = gen.reports["name"].str[:1]
            extra = gen.reports[first.isin(perturbed.drop_surname_readings)]
            reports = extra if reports is None else pd.concat([reports, extra]).drop_duplicates("report_id")
        perturbed.stations.to_csv(vdir / "stations.csv", index=False)
        if reports is not None:
            reports.to_csv(vdir / "reports_changed.csv", index=False)
        from benchmarks.child import run_module

        done = run_module("benchmarks.quality", "--ingest-variant", str(vdir.resolve()),
                          "--drop-surnames", ",".join(perturbed.drop_surname_readings))
        if done.returncode != 0:
            raise RuntimeError(f"ingest of variant {name} failed: {done.stderr_tail}")
        affected = sorted(perturbed.affected)
        (vdir / "affected.json").write_text(json.dumps(affected))
        info["variants"][name] = {"affected": len(affected), "reports_changed": 0 if reports is None else len(reports),
                                  "seconds": round(time.perf_counter() - t, 1)}
        stamp.write_text(json.dumps(info))
    stamp.write_text(json.dumps(info))
    return info


def ingest_variant(vdir: Path, drop_surnames: tuple[str, ...]) -> None:
    """Child process: normalize a variant's station table (and changed report rows), with the
    matcher's surname-reading table lacking ``drop_surnames`` when asked (a reading the table does
    not have). In its own process so that no cached reading outlives the run."""
    if drop_surnames:
        import functools

        import xunqin.normalizers.pinyin as pinyin

        full = pinyin.surname_readings()
        lacking = {k: v for k, v in full.items() if k not in set(drop_surnames)}
        pinyin.surname_readings = functools.cache(lambda: lacking)
    st = _ingest_rows(pd.read_csv(vdir / "stations.csv", dtype=str, keep_default_na=False), "stations", vdir / "tmp")
    st.to_parquet(vdir / "stations.parquet", index=False)
    changed = vdir / "reports_changed.csv"
    if changed.exists():
        rp = _ingest_rows(pd.read_csv(changed, dtype=str, keep_default_na=False), "reports", vdir / "tmp")
        rp.to_parquet(vdir / "reports_changed.parquet", index=False)


def load(data: Path, variant: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, set[str] | None]:
    """Normalized stations, reports, truth, and the ids a variant touched (None when clean)."""
    reports = pd.read_parquet(data / "normalized" / "reports.parquet")
    truth = pd.read_csv(data / "truth.csv", dtype=str, keep_default_na=False)
    if variant == "clean":
        return pd.read_parquet(data / "normalized" / "stations.parquet"), reports, truth, None
    vdir = data / "variants" / variant
    stations = pd.read_parquet(vdir / "stations.parquet")
    changed = vdir / "reports_changed.parquet"
    if changed.exists():
        new = pd.read_parquet(changed)
        position = pd.Series(np.arange(len(reports)), index=reports["report_id"].astype(str))
        rows = position[new["report_id"].astype(str)].to_numpy()
        reports = reports.copy()
        for col in new.columns:  # same ids, same row positions
            if col in reports.columns:
                values = reports[col].astype(object).to_numpy()
                values[rows] = new[col].astype(object).to_numpy()
                reports[col] = pd.Series(values, index=reports.index).infer_objects()
    affected = set(json.loads((vdir / "affected.json").read_text()))
    return stations, reports, truth, affected


# ---------------------------------------------------------------- one matcher run (child process)


def _figures(candidates: pd.DataFrame, truth: pd.DataFrame, affected: set[str] | None) -> dict:
    from xunqin.matching.evaluation import metrics_by_group, ranking_metrics

    overall = ranking_metrics(candidates, truth, k=10)
    groups = metrics_by_group(candidates, truth, group_col="name_group", k=10)
    out = {"queries": overall.n_queries, "recall_at_1": overall.recall_at_1,
           "recall_at_10": overall.recall_at_10, "mrr": overall.mrr,
           "groups": {str(g): {"n": int(n), "recall_at_1": float(a), "recall_at_10": float(b), "mrr": float(m)}
                      for g, n, a, b, m in groups[["name_group", "n", "recall_at_1", "recall_at_10", "mrr"]]
                      .itertuples(index=False)}}
    if affected is not None:
        touched = ranking_metrics(candidates, truth, k=10, station_ids=affected)
        out["affected"] = {"queries": touched.n_queries, "recall_at_1": touched.recall_at_1,
                           "recall_at_10": touched.recall_at_10, "mrr": touched.mrr}
    return out


def _blocking_by_group(result, stations: pd.DataFrame, reports: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """Per name group: share of true pairs the union of passes blocked, and per pass."""
    s_pos = pd.Series(np.arange(len(stations)), index=stations["record_id"].astype(str))
    r_pos = pd.Series(np.arange(len(reports)), index=reports["report_id"].astype(str))
    t = truth[truth["station_record_id"].isin(s_pos.index) & truth["report_id"].isin(r_pos.index)]
    codes = s_pos[t["station_record_id"]].to_numpy() * len(reports) + r_pos[t["report_id"]].to_numpy()
    union = result.blocked.station_rows * len(reports) + result.blocked.report_rows
    blocked = np.isin(codes, union)
    out = {}
    for g in GROUPS:
        sel = (t["name_group"] == g).to_numpy()
        if sel.any():
            out[g] = {"union": float(blocked[sel].mean()),
                      **{name: float(np.isin(codes[sel], pc).mean()) for name, pc in result.blocked.pass_codes.items()}}
    return out


def run_child(system: str, data: Path, variant: str) -> dict:
    stations, reports, truth, affected = load(data, variant)
    t0 = time.perf_counter()
    if system == "xunqin":
        from xunqin.matching.pipeline import match

        result = match(stations, reports)
        candidates = result.candidates
        extra = {"pairs": int(result.blocked.n_pairs), "timings": result.timings}
        seconds = time.perf_counter() - t0
        if variant == "clean":  # kept for the touched-records comparison and the diagnosis
            candidates[["station_record_id", "report_id", "rank", "score"]].to_parquet(
                data / "results" / "xunqin-clean-candidates.parquet", index=False)
            extra["blocked_by_group"] = _blocking_by_group(result, stations, reports, truth)
            extra["skipped_keys"] = {p.name: [p.skipped_keys, p.skipped_station_rows] for p in result.blocked.passes}
    else:
        from benchmarks.splink_baseline import run_splink

        result = run_splink(stations, reports, top_k=10, threads=2)
        candidates = result.candidates
        extra = {"pairs": int(result.n_pairs)}
        seconds = time.perf_counter() - t0
    return {"seconds": round(seconds, 1), **_figures(candidates, truth, affected), **extra}


def measure(system: str, data: Path, variant: str) -> dict:
    """One matcher on one variant in a fresh process: figures, wall time, the peak memory of its process tree."""
    from benchmarks.child import run_module

    out = data / "results" / f"{system}-{variant}.json"
    out.parent.mkdir(exist_ok=True)
    out.unlink(missing_ok=True)
    done = run_module("benchmarks.quality", "--run", system, "--data", str(data.resolve()), "--variant", variant)
    if done.returncode != 0:
        return {"error": done.stderr_tail.splitlines()[-1] if done.stderr_tail else "failed"}
    figures = json.loads(out.read_text())
    # the tree is sampled (a short peak may fall between samples); the child's own mark is exact
    figures["peak_mb"] = round(max(done.tree_peak_mb, done.max_rss_mb))
    figures["own_peak_mb"] = round(done.max_rss_mb)
    figures["tree_rss_peak_mb"] = round(done.tree_rss_peak_mb)
    out.write_text(json.dumps(figures, ensure_ascii=False, indent=1))
    return figures


def measure_command(data: Path) -> dict:
    """``xunqin match`` end to end in a fresh process, on the raw exchange files (reading,
    normalizing, matching, writing the candidates CSV): wall time of the whole command, the
    peak memory of its process tree, and its candidates' figures."""
    from benchmarks.child import run_module

    out = data / "results" / "cli-candidates.csv"
    out.parent.mkdir(exist_ok=True)
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    done = run_module("xunqin.flows.cli", "match", "--stations", str((data / "raw" / "stations.csv").resolve()),
                      "--reports", str((data / "raw" / "reports.csv").resolve()), "--out", str(out.resolve()))
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return {"error": done.stderr_tail.splitlines()[-1] if done.stderr_tail else "failed"}
    candidates = pd.read_csv(out, dtype={"station_record_id": str, "report_id": str}, keep_default_na=False)
    truth = pd.read_csv(data / "truth.csv", dtype=str, keep_default_na=False)
    figures = {"seconds": round(seconds, 1), **_figures(candidates, truth, None),
               "peak_mb": round(max(done.tree_peak_mb, done.max_rss_mb)), "tree_rss_peak_mb": round(done.tree_rss_peak_mb)}
    (data / "results" / "cli-clean.json").write_text(json.dumps(figures, ensure_ascii=False, indent=1))
    return figures


# ---------------------------------------------------------------- printing


def _f(v, fmt="{:.3f}") -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else fmt.format(v)


def print_clean(size: str, seed: int, info: dict, results: dict[str, dict]) -> None:
    n_s, n_r = SIZES[size]
    tag = "  <- never used for tuning" if seed == NEVER_TUNED_SEED else ""
    print(f"\n== {size} ({n_s:,} x {n_r:,}), seed {seed}{tag}: clean ==")
    systems = list(results)
    print(f"{'':34}" + "".join(f"{s:>14}" for s in systems))
    for label, key, fmt in (("true station records", "queries", "{:,}"), ("recall@1", "recall_at_1", "{:.3f}"),
                            ("recall@10", "recall_at_10", "{:.3f}"), ("MRR", "mrr", "{:.3f}"),
                            ("pairs scored", "pairs", "{:,}"), ("wall time, s", "seconds", "{}"),
                            ("peak memory (process tree, PSS), MB", "peak_mb", "{:,}")):
        print(f"{label:34}" + "".join(f"{_f(results[s].get(key), fmt):>14}" for s in systems))
    for g in GROUPS:
        n = results[systems[0]].get("groups", {}).get(g, {}).get("n")
        cells = [results[s].get("groups", {}).get(g, {}).get("recall_at_10") for s in systems]
        print(f"{'r@10 ' + g + f' (n={n})':34}" + "".join(f"{_f(c):>14}" for c in cells))
    for s in systems:
        if "error" in results[s]:
            print(f"{s} failed: {results[s]['error']}")
    if "xunqin match" in results and "splink" in results and "seconds" in results["splink"] \
            and "seconds" in results["xunqin match"]:
        print(f"xunqin match end to end / Splink wall time: "
              f"{results['xunqin match']['seconds'] / results['splink']['seconds']:.2f}x")


def print_perturbations(size: str, seed: int, info: dict, clean: dict, rows: dict[str, dict]) -> None:
    print(f"\n== {size}, seed {seed}: perturbations (xunqin), one field family at a time ==")
    print(f"{'variant':26}{'touched':>8}{'r@1':>7}{'r@10':>7}{'MRR':>7}{'d r@10':>8}"
          f"{'touched r@10 clean->pert':>27}")
    print(f"{'clean':26}{'':>8}{_f(clean.get('recall_at_1')):>7}{_f(clean.get('recall_at_10')):>7}"
          f"{_f(clean.get('mrr')):>7}")
    clean_first = clean.get("_first_rank")
    for name, r in rows.items():
        if "error" in r:
            print(f"{name:26} failed: {r['error']}")
            continue
        a = r.get("affected", {})
        base = clean_first.get(name) if clean_first else None
        delta = r["recall_at_10"] - clean["recall_at_10"]
        print(f"{name:26}{a.get('queries', 0):>8,}{_f(r['recall_at_1']):>7}{_f(r['recall_at_10']):>7}"
              f"{_f(r['mrr']):>7}{delta:>+8.3f}{_f(base):>14} -> {_f(a.get('recall_at_10')):<8}")


def print_spread(size: str, per_seed: dict[int, dict[str, dict]]) -> None:
    print(f"\n== {size}: spread across seeds {', '.join(map(str, per_seed))} (min / max / sd) ==")
    systems = sorted({s for r in per_seed.values() for s in r})
    for s in systems:
        vals = {k: [r[s][k] for r in per_seed.values() if s in r and k in r[s]] for k in ("recall_at_1", "recall_at_10", "mrr")}
        cells = "  ".join(f"{k.replace('recall_at_', 'r@')} {min(v):.3f}/{max(v):.3f}/{np.std(v):.3f}"
                          for k, v in vals.items() if v)
        print(f"  {s:8} {cells}")
        for g in GROUPS:
            v = [r[s]["groups"][g]["recall_at_10"] for r in per_seed.values() if s in r and g in r[s].get("groups", {})]
            if v:
                print(f"    r@10 {g:16} {min(v):.3f} / {max(v):.3f} / {np.std(v):.3f}")


def main(argv: list[str] | None = None) -> int:
    from benchmarks.perturb import PERTURBATIONS

    ap = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="S", help="S, M or S,M")
    ap.add_argument("--seeds", default="all",
                    help=f"'all' ({', '.join(map(str, SEEDS))}), 'never-tuned' ({NEVER_TUNED_SEED}) or a comma list")
    ap.add_argument("--perturbations", default="all", help="'all', 'none' or a comma list of: " + ", ".join(PERTURBATIONS))
    ap.add_argument("--no-splink", action="store_true")
    ap.add_argument("--no-cli", action="store_true", help="skip `xunqin match` end to end on the raw files")
    ap.add_argument("--out", default="bench-out/quality")
    ap.add_argument("--print-only", action="store_true",
                    help="print the figures an earlier run left under --out, run nothing")
    ap.add_argument("--run", choices=["xunqin", "splink"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--variant", default="clean", help=argparse.SUPPRESS)
    ap.add_argument("--ingest-variant", help=argparse.SUPPRESS)
    ap.add_argument("--drop-surnames", default="", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.ingest_variant:
        ingest_variant(Path(a.ingest_variant), tuple(x for x in a.drop_surnames.split(",") if x))
        return 0
    if a.run:
        data = Path(a.data)
        figures = run_child(a.run, data, a.variant)
        (data / "results" / f"{a.run}-{a.variant}.json").write_text(json.dumps(figures, ensure_ascii=False, indent=1))
        from benchmarks.child import report_peak_memory

        report_peak_memory()
        return 0
    seeds = SEEDS if a.seeds == "all" else (NEVER_TUNED_SEED,) if a.seeds == "never-tuned" else tuple(
        int(x) for x in a.seeds.split(","))
    perts = list(PERTURBATIONS) if a.perturbations == "all" else [] if a.perturbations == "none" else [
        x for x in a.perturbations.split(",") if x]
    unknown = [p for p in perts if p not in PERTURBATIONS]
    if unknown:
        ap.error(f"unknown perturbation(s): {', '.join(unknown)}")
    for size in a.size.split(","):
        per_seed: dict[int, dict[str, dict]] = {}
        for seed in seeds:
            data = Path(a.out) / f"{size}-{seed}"
            run = _earlier if a.print_only else measure
            if a.print_only and not (data / "results" / "xunqin-clean.json").exists():
                continue
            info = {} if a.print_only else prepare(size, seed, data, perts)
            results = {"xunqin": run("xunqin", data, "clean")}
            if not a.no_cli and not a.print_only:
                results["xunqin match"] = measure_command(data)
            elif a.print_only and (data / "results" / "cli-clean.json").exists():
                results["xunqin match"] = json.loads((data / "results" / "cli-clean.json").read_text())
            if not a.no_splink and (not a.print_only or (data / "results" / "splink-clean.json").exists()):
                results["splink"] = run("splink", data, "clean")
            print_clean(size, seed, info, results)
            per_seed[seed] = results
            if perts:
                done = [p for p in perts if not a.print_only or (data / "results" / f"xunqin-{p}.json").exists()]
                rows = {p: run("xunqin", data, p) for p in done}
                clean = dict(results["xunqin"])
                clean["_first_rank"] = _clean_recall_on_touched(data, perts)
                print_perturbations(size, seed, info, clean, rows)
            sys.stdout.flush()
        if len(per_seed) > 1:
            print_spread(size, per_seed)
    return 0


def _earlier(system: str, data: Path, variant: str) -> dict:
    return json.loads((data / "results" / f"{system}-{variant}.json").read_text())


def _clean_recall_on_touched(data: Path, perts: list[str]) -> dict[str, float]:
    """Clean-run recall@10 on the station records each variant touched."""
    from xunqin.matching.evaluation import ranking_metrics

    path = data / "results" / "xunqin-clean-candidates.parquet"
    if not path.exists():
        return {}
    candidates = pd.read_parquet(path)
    truth = pd.read_csv(data / "truth.csv", dtype=str, keep_default_na=False)
    out = {}
    for p in perts:
        ids = set(json.loads((data / "variants" / p / "affected.json").read_text()))
        out[p] = ranking_metrics(candidates, truth, k=10, station_ids=ids).recall_at_10
    return out


if __name__ == "__main__":
    raise SystemExit(main())
