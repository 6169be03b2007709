"""``xunqin model train|list|activate``: model versions learned from reviewer and police labels.

``train`` fits a new version from the records the database holds and the labels (see
matching/learning.py), judges it and the active version on the held-out labels, stores it
with its training counts and evaluation, and activates it only when it is not worse (it says
which and why). ``list`` shows every version; ``activate N`` switches by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

from xunqin.store.url import DEFAULT_URL, URL_ENV


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    for name, text in (("train", "fit a new model version from labelled pairs; activate it if not worse"),
                       ("list", "show the stored model versions"), ("activate", "make version N the active one")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--db", default=None, help=f"database URL (default ${URL_ENV}, else {DEFAULT_URL})")
        if name == "activate":
            p.add_argument("number", type=int, help="the version's number in `xunqin model list`")
        if name == "train":
            p.add_argument("--cache", default=None, metavar="DIR", help="prepared-records snapshot folder (as for nightly)")
        p.add_argument("--actor", default="admin-cli", help="who does it (for the audit log)")


def train_version(url: str, *, cache_dir: str | None = None, actor: str = "admin-cli", run_id: int | None = None,
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fit, judge, store and maybe activate a new version; returns what happened.

    ``progress`` (a ``progress(message)`` callable, see xunqin.matching.progress) hears how far it is.
    """
    from xunqin.flows.prepared import night_tables
    from xunqin.matching import learning
    from xunqin.matching.model import Model
    from xunqin.matching.pipeline import match_prepared
    from xunqin.matching.settings import default_settings
    from xunqin.store import db, labels, model_versions

    say = progress or (lambda _message: None)
    db.upgrade(url)
    say("reading the records held")
    prepared = night_tables(url, cache_dir).snapshot.prepared()
    with db.sessions(url)() as s:
        held = labels.latest_labels(s)
        active_row = model_versions.active_row(s)
        active = Model.from_dict(json.loads(active_row.body)) if active_row is not None else None
    settings = active.settings if active is not None else default_settings()
    base = match_prepared(prepared, settings=settings, progress=progress).model  # EM and u on today's data
    say(f"fitting a version on {len(held):,} labels")
    evaluate_on = learning.held_out(held["station_record_id"]) if len(held) else None
    train_labels = held.loc[~evaluate_on] if evaluate_on is not None else held
    eval_labels = held.loc[evaluate_on] if evaluate_on is not None else held
    new, counts = learning.fit(base, prepared, train_labels)
    new_eval = learning.evaluate(new, prepared, eval_labels)
    active_eval = learning.evaluate(active, prepared, eval_labels) if active is not None else None
    if active_eval is None:
        accept, why = True, "还没有启用的模型，新模型启用 (no active model yet)"
    else:
        accept, why = learning.not_worse(new_eval, active_eval)
    training = {**counts, "held_out_labels": int(len(eval_labels)), "station_records": int(prepared.stations.n),
                "reports": int(prepared.reports.n)}
    evaluation = {"new": new_eval.as_dict(), "active": None if active_eval is None else active_eval.as_dict(),
                  "compared_with": None if active_row is None else active_row.id}
    with db.sessions(url).begin() as s:
        version = model_versions.save_model(s, new.to_dict(), run_id, activate=accept, training=training,
                                            evaluation=evaluation, note=why, actor=actor)
        number = next(r.id for r in model_versions.list_models(s) if r.version == version)
    return {"number": number, "version": version, "activated": accept, "why": why, "training": training,
            "evaluation": evaluation}


def _fmt(value: object) -> str:
    return "-" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))


def run(args: argparse.Namespace) -> int:
    from xunqin.store import db, model_versions

    url = db.database_url(args.db)
    db.upgrade(url)
    if args.model_command == "train":
        from xunqin.flows.progress import console_progress

        with console_progress() as say:
            done = train_version(url, cache_dir=args.cache, actor=args.actor, progress=say)
        state = "已启用 (activated)" if done["activated"] else "未启用 (kept inactive)"
        new, old = done["evaluation"]["new"], done["evaluation"]["active"] or {}
        print(f"模型版本 {done['number']} ({done['version']}) {state}: {done['why']}")
        print(f"  训练标注 {done['training']['labels']} 对（确认 {done['training']['labels_true']}，"
              f"排除 {done['training']['labels_false']}），留出 {done['training']['held_out_labels']} 对")
        print(f"  留出评估 new: recall@1 {_fmt(new.get('recall_at_1'))}, recall@10 {_fmt(new.get('recall_at_10'))}, "
              f"ECE {_fmt(new.get('ece'))}; active: recall@1 {_fmt(old.get('recall_at_1'))}, "
              f"recall@10 {_fmt(old.get('recall_at_10'))}, ECE {_fmt(old.get('ece'))}")
        return 0
    if args.model_command == "activate":
        with db.sessions(url).begin() as s:
            try:
                row = model_versions.activate(s, args.number, args.actor)
            except LookupError as exc:
                print(f"xunqin: {exc}", file=sys.stderr)
                return 1
        print(f"模型版本 {row.id} ({row.version}) 已启用 (activated)")
        return 0
    with db.sessions(url)() as s:
        rows = model_versions.list_models(s)
    if not rows:
        print("还没有模型版本 (no model versions yet)")
        return 0
    print("no  active  created              version           labels  recall@1  recall@10  ECE    note")
    for r in rows:
        ev = (r.evaluation or {}).get("new") or {}
        print(f"{r.id:<3} {'*' if r.is_active else ' ':<7} {r.created_at:%Y-%m-%d %H:%M}     {r.version}  "
              f"{_fmt((r.training or {}).get('labels')):>6}  {_fmt(ev.get('recall_at_1')):>8}  "
              f"{_fmt(ev.get('recall_at_10')):>9}  {_fmt(ev.get('ece')):>5}  {r.note or ''}")
    return 0
