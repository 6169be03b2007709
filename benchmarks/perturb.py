"""The perturbation suite: the same generated records under one corruption at a time.

Each perturbation takes a :class:`~xunqin.data.generate.Generated` (independent model, with its
latent frames) and returns the exchange-format station table with one field family corrupted, the
report rows that change (if any) and the ids of the station records it touched. Corruptions come
from the generator's own confusion functions (``xunqin.data.generate_confusions``), never from the
matcher. Names are corrupted where the station wrote the registered name (``name_form`` exact), so
that each corruption is measured alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from xunqin.data import generate_confusions as cf
from xunqin.data import generate_text as tx
from xunqin.data.generate import Generated, estimated_ages


@dataclass(frozen=True)
class Perturbed:
    stations: pd.DataFrame  # the whole station table, exchange format
    affected: frozenset[str]  # station record ids whose record (or a true report) changed
    reports_changed: pd.DataFrame | None = None  # exchange-format rows of reports that change
    # surnames whose reading the matcher's surname table must lack for this run
    drop_surname_readings: tuple[str, ...] = field(default=())


def _exact(gen: Generated) -> np.ndarray:
    return (gen.station_latent["name_form"] == "exact").to_numpy()


def _renamed_names(gen: Generated, rows: np.ndarray, new_names: list[str | None]) -> Perturbed:
    st = gen.stations.copy()
    ids = st["record_id"].to_numpy()
    changed = []
    for i, name in zip(rows.tolist(), new_names):
        if name and name != st.at[i, "name"]:
            st.at[i, "name"] = name
            changed.append(ids[i])
    return Perturbed(st, frozenset(changed))


def name_by(fn: Callable[[np.random.Generator, pd.Series], str | None]) -> Callable[[Generated, np.random.Generator], Perturbed]:
    """A perturbation writing each exact station name as ``fn(rng, latent row)`` (None: unchanged)."""

    def perturb(gen: Generated, rng: np.random.Generator) -> Perturbed:
        lat = gen.station_latent
        rows = np.flatnonzero(_exact(gen))
        return _renamed_names(gen, rows, [fn(rng, lat.iloc[i]) for i in rows.tolist()])

    return perturb


def _heard(rng: np.random.Generator, r: pd.Series) -> tuple[list[str], list[str]]:
    return list(r["surname"] + r["given"]), cf.heard(rng, r["surname"], r["surname_reading"], r["given"])


def accent_family(*families: str) -> Callable[[Generated, np.random.Generator], Perturbed]:
    """Every exact name heard through one accent family (whatever the home province)."""
    return name_by(lambda rng, r: cf.accent(rng, *_heard(rng, r), province=None, families=families))


def homophone(rng: np.random.Generator, r: pd.Series) -> str | None:
    return cf.homophone(rng, *_heard(rng, r))


def southern_surname(rng: np.random.Generator, r: pd.Series) -> str | None:
    swap = cf.surname_swaps().get(r["surname"])
    return swap[0] + r["given"] if swap else None


def dropped_char(rng: np.random.Generator, r: pd.Series) -> str | None:
    return cf.drop_character(rng, r["surname"], r["given"])


def split(rng: np.random.Generator, r: pd.Series) -> str | None:
    return cf.split_name(rng, r["surname"], r["given"])


def special_reading_surnames() -> tuple[str, ...]:
    """Surnames whose surname reading is not their character's main reading (单 shan, 曾 zeng),
    by the generator's own tables."""
    from xunqin.data import generate_ref as ref

    sn, main = ref.surnames(), cf.sounds().main
    return tuple(s for s, r in zip(sn.text.tolist(), sn.reading) if len(s) == 1 and main.get(s, r) != r)


def surname_reading_missing(gen: Generated, rng: np.random.Generator) -> Perturbed:
    """Surnames with a special reading written by that sound (单 -> 善), and the matcher's surname
    table without those readings: a reading the table lacks."""
    special = set(special_reading_surnames())
    lat = gen.station_latent
    rows = np.flatnonzero(_exact(gen) & lat["surname"].isin(special).to_numpy())
    names = []
    for i in rows.tolist():
        r = lat.iloc[i]
        new = cf.write_syllable(rng, r["surname_reading"], r["surname"])
        names.append(new + r["given"] if new else None)
    out = _renamed_names(gen, rows, names)
    return Perturbed(out.stations, out.affected, drop_surname_readings=tuple(sorted(special)))


def _true_station_ids_of_reports(gen: Generated, report_ids) -> set[str]:
    t = gen.truth
    return set(t.loc[t["report_id"].isin(set(report_ids)), "station_record_id"])


def _renamed_in(text: str, pairs: list[tuple[str, str]]) -> str:
    """``text`` with each gazetteer name written as its other name (the short form for a short one:
    襄阳人 -> 襄樊人); the wording around stays as it was."""
    from xunqin.data import generate_ref as ref

    for old, new in pairs:
        if old in text:
            text = text.replace(old, new)
        else:
            short_old, short_new = ref.short_place(old), ref.short_place(new)
            if len(short_old) >= 2 and short_old in text:
                text = text.replace(short_old, short_new)
    return text


def hometown_names(kind: str) -> Callable[[Generated, np.random.Generator], Perturbed]:
    """Every hometown (station and report) naming a renamed division written with its ``kind``
    (older|newer) name: names older or newer than the gazetteer."""
    from xunqin.data import generate_ref as ref

    def pairs_of(county: int) -> list[tuple[str, str]]:
        geo = ref.geo()
        pref, name = geo.pref_name[county], geo.name[county]
        out = []
        new_name = cf.renamed_to(int(geo.code[county]), kind)
        if new_name:
            out.append((name, new_name))
        if pref and pref != name:
            new_pref = cf.renamed_to(int(geo.pref_key[county]) * 100, kind)
            if new_pref:
                out.append((pref, new_pref))
        return out

    def rewrite(frame: pd.DataFrame, counties: np.ndarray) -> tuple[np.ndarray, list[str]]:
        rows, texts = [], []
        for i, (text, county) in enumerate(zip(frame["hometown"].tolist(), counties.tolist())):
            pairs = pairs_of(int(county))
            new = _renamed_in(text, pairs) if pairs and text else text
            if new != text:
                rows.append(i)
                texts.append(new)
        return np.array(rows, dtype=np.int64), texts

    def perturb(gen: Generated, rng: np.random.Generator) -> Perturbed:
        st = gen.stations.copy()
        rows, texts = rewrite(st, gen.station_latent["county"].to_numpy())
        st.loc[rows, "hometown"] = texts
        affected = set(st["record_id"].to_numpy()[rows])
        rows, texts = rewrite(gen.reports, gen.report_latent["county"].to_numpy())
        changed = gen.reports.iloc[rows].copy()
        changed["hometown"] = texts
        affected |= _true_station_ids_of_reports(gen, changed["report_id"])
        return Perturbed(st, frozenset(affected), reports_changed=changed)

    return perturb


def age_twice_off(gen: Generated, rng: np.random.Generator) -> Perturbed:
    """Every age estimate twice as far from the true age (same form of writing)."""
    lat = gen.station_latent
    est = estimated_ages(lat["age"].to_numpy(), lat["age_deviation"].to_numpy(), lat["age_heaped"].to_numpy(), 2.0)
    texts = [tx.age_text(e, tx.AGE_FORMS[f], o) for e, f, o in zip(est.tolist(), lat["age_form"].tolist(),
                                                                     lat["age_lo_off"].tolist())]
    st = gen.stations.copy()
    changed = st["estimated_age"].to_numpy() != np.array(texts, dtype=object)
    st["estimated_age"] = texts
    return Perturbed(st, frozenset(st.loc[changed, "record_id"]))


def emptied(column: str) -> Callable[[Generated, np.random.Generator], Perturbed]:
    def perturb(gen: Generated, rng: np.random.Generator) -> Perturbed:
        st = gen.stations.copy()
        had = st[column] != ""
        st[column] = ""
        return Perturbed(st, frozenset(st.loc[had, "record_id"]))

    return perturb


_MARK_CLAUSE = re.compile(r"疤|痣|胎记|纹|缺|残")


def marks_missing(gen: Generated, rng: np.random.Generator) -> Perturbed:
    """Every station note of a mark (scar, mole, birthmark, tattoo, missing finger) left out;
    conditions and clothing stay."""
    st = gen.stations.copy()
    before = st["features"].copy()

    def strip(text: str) -> str:
        parts = re.split(r"([，；])", text)
        kept = [p for p in parts[::2] if p and not _MARK_CLAUSE.search(p)]
        return "，".join(kept)

    st["features"] = before.map(strip)
    return Perturbed(st, frozenset(st.loc[st["features"] != before, "record_id"]))


PERTURBATIONS: dict[str, Callable[[Generated, np.random.Generator], Perturbed]] = {
    "homophone": name_by(homophone),
    "accent_n_l": accent_family("n_l"),
    "accent_f_h": accent_family("f_h"),
    "accent_zh_z": accent_family("zh_z"),
    "accent_r": accent_family("r_l", "r_y"),
    "accent_en_in": accent_family("en_eng", "in_ing"),
    "accent_an_ang": accent_family("an_ang"),
    "accent_ong_eng": accent_family("ong_eng"),
    "accent_j_z": accent_family("j_z"),
    "accent_b_p": accent_family("b_p"),
    "accent_d_t": accent_family("d_t"),
    "accent_g_k": accent_family("g_k"),
    "accent_v_i": accent_family("v_i"),
    "southern_surname": name_by(southern_surname),
    "surname_reading_missing": surname_reading_missing,
    "name_split": name_by(split),
    "name_dropped_char": name_by(dropped_char),
    "hometown_older_names": hometown_names("older"),
    "hometown_newer_names": hometown_names("newer"),
    "hometown_missing": emptied("hometown"),
    "dialect_missing": emptied("dialect"),
    "marks_missing": marks_missing,
    "age_twice_off": age_twice_off,
}
