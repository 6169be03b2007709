"""Why a true pair is missed, per name group: not blocked (which pass would have held it, and was
its key over the pass's cap), or blocked and outscored (at which comparison levels the true pair
and the winning candidate differ, and what the model weighs those levels).

    python -m benchmarks.diagnose --data bench-out/quality/M-90417           # after benchmarks.quality
    python -m benchmarks.diagnose --data DIR --settings my_settings.yaml      # a local experiment

Reads the prepared data of ``benchmarks.quality``; prints figures, asserts nothing. Uses the
matcher read-only (``blocking._exploded_keys`` to see each pass's keys before the cap).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

if __package__ in (None, ""):  # run as a file: python benchmarks/diagnose.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.quality import GROUPS, load  # noqa: E402


def _true_pairs(prepared, truth: pd.DataFrame) -> pd.DataFrame:
    s_pos = pd.Series(np.arange(prepared.stations.n), index=pd.Index(prepared.stations.ids.astype(str)))
    r_pos = pd.Series(np.arange(prepared.reports.n), index=pd.Index(prepared.reports.ids.astype(str)))
    t = truth[truth["station_record_id"].isin(s_pos.index) & truth["report_id"].isin(r_pos.index)].copy()
    t["s"] = s_pos[t["station_record_id"]].to_numpy()
    t["r"] = r_pos[t["report_id"]].to_numpy()
    t["kind"] = prepared.stations.values["name_kind"][t["s"].to_numpy()]
    return t.reset_index(drop=True)


def pass_reach(prepared, spec, pairs: pd.DataFrame) -> pd.DataFrame:
    """Per true pair and this pass: shares a key before the cap, and the smallest shared key's
    report count (a key over ``max_reports_per_key`` is dropped by the pass)."""
    from xunqin.matching import blocking

    s_rows, s_key, r_rows, r_key = blocking._exploded_keys(prepared.stations, prepared.reports, spec)
    n_keys = int(max(s_key.max(initial=-1), r_key.max(initial=-1))) + 1
    per_key = np.bincount(r_key, minlength=n_keys)
    want_s, want_r = np.isin(s_rows, pairs["s"].to_numpy()), np.isin(r_rows, pairs["r"].to_numpy())
    st = pd.DataFrame({"s": s_rows[want_s], "key": s_key[want_s]})
    rp = pd.DataFrame({"r": r_rows[want_r], "key": r_key[want_r]})
    shared = st.merge(rp, on="key").merge(pairs[["s", "r"]], on=["s", "r"])
    shared["size"] = per_key[shared["key"].to_numpy()]
    best = shared.groupby(["s", "r"], as_index=False)["size"].min()
    out = pairs[["s", "r"]].merge(best, on=["s", "r"], how="left")
    return pd.DataFrame({"shares": out["size"].notna().to_numpy(), "size": out["size"].to_numpy()})


def main(argv: list[str] | None = None) -> int:
    from xunqin.matching import compare as compare_mod
    from xunqin.matching import score as score_mod
    from xunqin.matching.pipeline import match_prepared
    from xunqin.matching.features import prepare
    from xunqin.matching.settings import Settings, default_settings

    ap = argparse.ArgumentParser(prog="python -m benchmarks.diagnose", description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a size-seed folder written by benchmarks.quality")
    ap.add_argument("--variant", default="clean")
    ap.add_argument("--settings", help="matcher settings YAML/JSON to try instead of the default")
    ap.add_argument("--json", help="write the figures here too")
    a = ap.parse_args(argv)
    data = Path(a.data)
    settings = Settings.load(a.settings) if a.settings else default_settings()
    stations, reports, truth, _ = load(data, a.variant)
    t0 = time.perf_counter()
    prepared = prepare(stations, reports)
    result = match_prepared(prepared, settings=settings, keep_scored_pairs=True)
    print(f"matched {len(stations):,} x {len(reports):,} in {time.perf_counter() - t0:.0f} s, "
          f"{result.blocked.n_pairs:,} pairs")
    pairs = _true_pairs(prepared, truth)
    n_reports = np.int64(prepared.reports.n)
    codes = pairs["s"].to_numpy() * n_reports + pairs["r"].to_numpy()
    union = result.blocked.station_rows * n_reports + result.blocked.report_rows
    pairs["blocked"] = np.isin(codes, union)
    cand = result.candidates[["station_record_id", "report_id", "rank", "score"]]
    pairs = pairs.merge(cand, on=["station_record_id", "report_id"], how="left")
    pairs["top10"] = pairs["rank"].le(10)
    sp = result.scored_pairs
    true_score = pd.Series(sp["score"].to_numpy(), index=sp["station_row"].to_numpy() * n_reports + sp["report_row"].to_numpy())
    pairs["true_score"] = true_score.reindex(codes).to_numpy()

    figures: dict = {"pairs": int(result.blocked.n_pairs), "groups": {}}
    # ---- blocking: which pass could hold each true pair, and was its key capped
    reach = {}
    for spec in settings.blocking:
        r = pass_reach(prepared, spec, pairs)
        eligible = np.isin(pairs["kind"].to_numpy(), spec.station_kinds) if spec.station_kinds else np.ones(len(pairs), bool)
        r["eligible"] = eligible
        r["capped"] = r["shares"] & (r["size"] > spec.max_reports_per_key) & eligible
        r["held"] = r["shares"] & ~r["capped"] & eligible
        reach[spec.name] = (r, spec.max_reports_per_key)
    # ---- per group, per station record (its best true pair)
    pairs["any_held"] = np.any([r["held"].to_numpy() for r, _ in reach.values()], axis=0)
    pairs["any_capped"] = np.any([r["capped"].to_numpy() for r, _ in reach.values()], axis=0)
    print("\nper name group (station records; a record counts once, by its best true report)")
    print(f"{'group':16}{'n':>6}{'r@10':>7}{'blocked':>9}{'capped only':>13}{'no key':>8}{'outscored':>11}"
          "  parsed as (share)")
    order = pairs.sort_values(["top10", "blocked", "true_score"], ascending=False)
    best = order.drop_duplicates("station_record_id")
    for g in GROUPS:
        b = best[best["name_group"] == g]
        if not len(b):
            continue
        capped_only = (~b["blocked"]) & b["any_capped"]
        no_key = (~b["blocked"]) & ~b["any_capped"]
        outscored = b["blocked"] & ~b["top10"]
        kinds = b["kind"].value_counts(normalize=True).round(2).to_dict()
        print(f"{g:16}{len(b):>6}{b['top10'].mean():>7.3f}{b['blocked'].mean():>9.3f}{capped_only.mean():>13.3f}"
              f"{no_key.mean():>8.3f}{outscored.mean():>11.3f}  {kinds}")
        figures["groups"][g] = {"n": int(len(b)), "recall_at_10": float(b["top10"].mean()),
                                "blocked": float(b["blocked"].mean()), "capped_only": float(capped_only.mean()),
                                "no_key": float(no_key.mean()), "outscored": float(outscored.mean()), "kinds": kinds}
    # ---- records no pass reaches: what evidence they lack
    st_side, rp_side = prepared.stations, prepared.reports
    nokey = best[~best["blocked"] & ~best["any_capped"]]
    if len(nokey):
        i, j = nokey["s"].to_numpy(), nokey["r"].to_numpy()
        home = st_side.multi["home_or_dialect_provinces"]
        no_home = home.counts()[i] == 0
        no_age = np.isnan(st_side.values["birth_low"][i])
        by = rp_side.values["birth_year"][j]
        off_age = ~no_age & ((by < st_side.values["birth_low"][i] - 2.5) | (by > st_side.values["birth_high"][i] + 2.5))
        def sets(m, rows):
            owner, codes = m.gather(rows)
            out = [set() for _ in range(len(rows))]
            for o, c in zip(owner.tolist(), codes.tolist()):
                out[o].add(c)
            return out

        far = np.array([not (a & b) for a, b in zip(sets(st_side.multi["found_provinces"], i),
                                                     sets(rp_side.multi["missing_provinces"], j))])
        print("\nrecords no pass reaches (no shared key): share with no hometown or dialect province / no age / "
              "age outside the birth window / found in another province than the missing one")
        for g in GROUPS:
            sel = (nokey["name_group"] == g).to_numpy()
            if sel.sum() >= 3:
                print(f"  {g:16} n={int(sel.sum()):>4}  no home {no_home[sel].mean():.2f}  no age {no_age[sel].mean():.2f}"
                      f"  age off {off_age[sel].mean():.2f}  found elsewhere {far[sel].mean():.2f}")
                figures.setdefault("no_key", {})[g] = {"n": int(sel.sum()), "no_home": float(no_home[sel].mean()),
                                                      "no_age": float(no_age[sel].mean()),
                                                      "age_off": float(off_age[sel].mean()),
                                                      "found_elsewhere": float(far[sel].mean())}
    # ---- the passes: how often each holds a group's true pairs, and how often its cap drops them
    print("\nper pass: share of the group's true pairs it holds / whose shared key it drops at the cap "
          "(median size of those keys)")
    rows = []
    for name, (r, cap) in reach.items():
        line = f"  {name:30} cap {cap:>5}"
        cells = {}
        for g in ("nickname", "given_only", "surname_only", "other_surname", "dropped_char", "no_name", "dialect",
                  "southern_accent"):
            sel = (pairs["name_group"] == g).to_numpy()
            if not sel.any():
                continue
            held, capped = r["held"].to_numpy()[sel].mean(), r["capped"].to_numpy()[sel].mean()
            size = r.loc[sel & r["capped"].to_numpy(), "size"]
            cells[g] = {"held": float(held), "capped": float(capped),
                        "capped_key_median": float(size.median()) if len(size) else None}
            if held or capped:
                line += f" | {g} {held:.2f}/{capped:.2f}" + (f" ({size.median():,.0f})" if len(size) else "")
        rows.append(line)
        figures.setdefault("passes", {})[name] = cells
    print("\n".join(rows))
    # ---- outscored: which comparisons make the winner win
    ctx = compare_mod.context(prepared)
    model = result.model
    outs = best[best["blocked"] & ~best["top10"]]
    top1 = cand[cand["rank"] == 1].set_index("station_record_id")["report_id"]
    outs = outs[outs["station_record_id"].isin(top1.index)]
    r_pos = pd.Series(np.arange(prepared.reports.n), index=pd.Index(prepared.reports.ids.astype(str)))
    names = [c.name for c in settings.comparisons]
    print("\noutscored true pairs: per comparison where the rank-1 candidate gains most, mean weight (bits) and"
          " commonest levels of the true pair vs of the rank-1 candidate")
    for g in GROUPS:
        o = outs[outs["name_group"] == g]
        if len(o) < 5:
            continue
        i = o["s"].to_numpy()
        jt = o["r"].to_numpy()
        jw = r_pos[top1[o["station_record_id"]].to_numpy()].to_numpy()
        lt, lw = compare_mod.compare(ctx, settings, i, jt), compare_mod.compare(ctx, settings, i, jw)
        wt, ww = score_mod.pair_weights(model, prepared, lt, i), score_mod.pair_weights(model, prepared, lw, i)
        gap = (ww - wt).mean(axis=0)
        worst = np.argsort(-gap)[:4]
        parts = []
        for c in worst:
            labels = settings.comparisons[c].labels
            common = pd.Series(lt[:, c]).map(dict(enumerate(labels))).value_counts(normalize=True).head(2).round(2).to_dict()
            rival = pd.Series(lw[:, c]).map(dict(enumerate(labels))).value_counts(normalize=True).head(2).round(2).to_dict()
            parts.append(f"{names[c]} {wt[:, c].mean():+.1f} {common} vs {ww[:, c].mean():+.1f} {rival}")
        print(f"  {g} (n={len(o)}): " + "; ".join(parts))
        figures.setdefault("outscored", {})[g] = {names[c]: [float(wt[:, c].mean()), float(ww[:, c].mean())]
                                                  for c in range(len(names))}
    # ---- the model's weights, per level
    print("\nmodel weights (bits) per level")
    for c, w in zip(settings.comparisons, model.weight_table()):
        print(f"  {c.name:12} " + "  ".join(f"{label} {x:+.1f}" for label, x in zip(c.labels, w)))
    figures["weights"] = {c.name: dict(zip(c.labels, map(float, w))) for c, w in zip(settings.comparisons, model.weight_table())}
    figures["skipped_keys"] = {p.name: [p.pairs, p.skipped_keys, p.skipped_station_rows] for p in result.blocked.passes}
    print("\nper pass: pairs, keys over the cap, station records that lost a key to the cap")
    for p in result.blocked.passes:
        print(f"  {p.name:30}{p.pairs:>12,}{p.skipped_keys:>8,}{p.skipped_station_rows:>8,}")
    if a.json:
        Path(a.json).write_text(json.dumps(figures, ensure_ascii=False, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
