"""Splink baseline for the benchmark: what a competent Splink user would build on the
same normalized tables xunqin uses.

Splink 5 / DuckDB, ``link_only`` between stations and reports. Columns are derived in
pandas first (pinyin keys without spaces, birth year, first province/prefecture, ...),
u is estimated by random sampling, m by EM on two blocking rules, then the blocked pairs
are scored and the ``top_k`` reports per station record kept by match weight.

Splink gets the same derived evidence xunqin blocks and compares on, computed with xunqin's
normalizers (as ingest does): the dialect-folded name and given name (``name_folded``,
``given_folded``), the nickname core (小红 -> hong; for a report, its given-name syllables and
alias cores) and the provinces a station record points to (hometown and dialect). So the
comparison of the two measures the model, not the features.

Splink 5 notes (checked against the installed 5.0.0 source):
- inputs must be registered with ``db_api.register(df, table_name=...)`` and the
  resulting SplinkDataFrames passed to ``Linker`` (pandas frames are no longer accepted);
- ``splink.comparison_library`` has no numeric ``AbsoluteDifferenceAtThresholds``, so
  birth year and height use ``CustomComparison`` with ``AbsoluteDifferenceLevel``;
- EM takes ``max_pairs`` to cap its training pairs (used here to bound run time);
- blocked-pair counts: ``splink.blocking_analysis.count_comparisons_from_blocking_rules``
  (see :func:`count_blocked_pairs`).
Splink and duckdb are dev-only dependencies, so they are imported inside functions.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# Name kinds whose name text says nothing about identity (set to null, as a competent
# user would, so they neither block nor score).
NO_NAME_KINDS = frozenset({"placeholder", "empty"})
# Only a real full name is compared as a full name; a surname-only 王某 or a given name
# alone would be compared against full names and mislead the JW levels.
FULL_NAME_KINDS = frozenset({"full", "nickname"})

STATIONS = "stations"
REPORTS = "reports"
# Column order handed to Splink (same for both tables, as link_only requires).
SPLINK_COLUMNS = [
    "unique_id",
    "name_py",
    "alias_py",
    "surname_py",
    "given_py",
    "gender",
    "birth_year",
    "province",
    "prefecture",
    "height_cm",
    "id_number",
    "marks",
    # the same derived keys xunqin uses
    "name_folded",
    "given_folded",
    "core_folded",
    "provinces",
]
_SPLINK_LOGGERS = ("splink",)


@dataclass(frozen=True)
class SplinkResult:
    """Top-k candidates per station record (columns station_record_id, report_id,
    rank, score = Splink match weight), number of scored pairs and wall time."""

    candidates: pd.DataFrame
    n_pairs: int
    seconds: float


# ---------------------------------------------------------------- column derivation


def _first_token(s: pd.Series, *, strip_spaces: bool = False) -> pd.Series:
    """First '|'-separated value (or None), optionally with spaces removed."""
    s = s.astype("string")
    first = s.str.split("|", n=1).str[0].str.strip()
    if strip_spaces:
        first = first.str.replace(r"\s+", "", regex=True)
    first = first.str.lower() if strip_spaces else first
    return first.where(first.notna() & (first != ""), None).astype(object)


@functools.lru_cache(maxsize=200_000)
def _alias_pinyin(alias: str) -> str | None:
    """Toneless pinyin of one alias, spaces removed (aliases repeat: cache)."""
    from pypinyin import lazy_pinyin

    out = "".join(p for p in lazy_pinyin(alias) if p.isascii() and p.isalpha()).lower()
    return out or None


def _first_alias_pinyin(s: pd.Series) -> pd.Series:
    first = _first_token(s)
    return first.map(lambda a: _alias_pinyin(a) if isinstance(a, str) else None)


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    """Column or an all-null Series (optional columns may be absent)."""
    if name in df.columns:
        return df[name]
    return pd.Series([None] * len(df), index=df.index, dtype=object)


def _marks_list(s: pd.Series) -> pd.Series:
    def split(v: Any) -> list[str] | None:
        if not isinstance(v, str):
            return None
        toks = sorted({t.strip() for t in v.split("|") if t.strip()})
        return toks or None

    return s.map(split)


def _gender(s: pd.Series) -> pd.Series:
    s = s.astype(object)
    return s.where(s.isin(["男", "女"]), None)


def _year(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, errors="coerce").dt.year.astype("Float64")


def _list(s: pd.Series) -> pd.Series:
    """'a|b' -> sorted unique list, or None."""

    def split(v: Any) -> list[str] | None:
        if not isinstance(v, str):
            return None
        toks = sorted({t.strip() for t in v.split("|") if t.strip()})
        return toks or None

    return s.map(split)


@functools.lru_cache(maxsize=200_000)
def _fold_first(key: str) -> str | None:
    from xunqin.normalizers.phonetic import fold_key

    first = key.split("|", 1)[0].strip()
    return fold_key(first).replace(" ", "") or None if first else None


def _folded_first(s: pd.Series) -> pd.Series:
    return s.map(lambda v: _fold_first(v) if isinstance(v, str) and v else None).astype(object)


@functools.lru_cache(maxsize=200_000)
def _syllables_folded(keys: str) -> tuple[str, ...]:
    """Every folded syllable of '|'-separated pinyin keys (a report's given name, alias cores)."""
    from xunqin.normalizers.phonetic import fold_syllable

    return tuple(sorted({fold_syllable(x) for k in keys.split("|") for x in k.split() if x}))


def _common(df: pd.DataFrame, id_col: str) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    out["unique_id"] = df[id_col].astype(str)
    out["name_py"] = _first_token(_col(df, "name_pinyin"), strip_spaces=True)
    out["alias_py"] = pd.Series([None] * len(df), index=df.index, dtype=object)
    out["surname_py"] = _first_token(_col(df, "surname_pinyin"), strip_spaces=True)
    out["given_py"] = _first_token(_col(df, "given_pinyin"), strip_spaces=True)
    out["gender"] = _gender(_col(df, "gender"))
    out["province"] = _first_token(_col(df, "hometown_provinces"))
    out["prefecture"] = _first_token(_col(df, "hometown_prefectures"))
    h = pd.to_numeric(_col(df, "height_cm"), errors="coerce").astype(float)
    out["height_cm"] = h.where((h >= 40) & (h <= 250))  # absurd heights -> null
    idn = _col(df, "id_number").astype("string").str.strip().str.upper()
    out["id_number"] = idn.where(idn.str.len() == 18, None).astype(object)
    out["marks"] = _marks_list(_col(df, "marks"))
    # folded with xunqin's own fold (normalizers.phonetic), from the first reading
    out["name_folded"] = _folded_first(_col(df, "name_pinyin"))
    out["given_folded"] = _folded_first(_col(df, "given_pinyin"))
    out["provinces"] = _list(_col(df, "hometown_provinces"))
    return out


def prepare_stations(stations: pd.DataFrame) -> pd.DataFrame:
    """Splink input columns for station records.

    birth_year = found_date year minus the middle of the age interval (one bound is
    used alone when the other is missing). Names are nulled for placeholder/empty
    names; the full-name key only exists for full names and nicknames.
    """
    out = _common(stations, "record_id")
    # Without a name_kind column every name is taken as a full name.
    kind = _col(stations, "name_kind").astype(object).fillna("full")
    no_name = kind.isin(NO_NAME_KINDS).to_numpy()
    full = kind.isin(FULL_NAME_KINDS).to_numpy()
    for c in ("name_py", "surname_py", "given_py", "name_folded", "given_folded"):
        out.loc[no_name, c] = None
    out.loc[~full, ["name_py", "name_folded"]] = None
    # nickname core (小红 -> hong) of nicknames and given names alone, as xunqin's blocking has it
    core = _col(stations, "core_pinyin").astype(object)
    cored = kind.isin(["nickname", "given_only"]).to_numpy()
    out["core_folded"] = None
    out["core_folded"] = [[c] if k and isinstance(c, str) else None
                          for k, c in zip(cored, _folded_first(core).tolist())]
    # where the person may be from: the hometown said and the dialect's provinces
    dialect = _list(_col(stations, "dialect_provinces"))
    out["provinces"] = [sorted(set(a or []) | set(b or [])) or None for a, b in zip(out["provinces"], dialect)]
    # A nickname (小红, 老王) is what families put in 小名: compare it with aliases too.
    # Ingest gives no name_pinyin for nicknames, so the nickname text is romanised
    # the same way as report aliases (else the nickname would never be compared).
    nick = kind.eq("nickname").to_numpy()
    nick_py = _first_alias_pinyin(_col(stations, "name_clean"))
    out.loc[nick, "alias_py"] = out.loc[nick, "name_py"].fillna(nick_py[nick])
    lo = pd.to_numeric(_col(stations, "age_low"), errors="coerce").astype(float)
    hi = pd.to_numeric(_col(stations, "age_high"), errors="coerce").astype(float)
    mid = pd.concat([lo, hi], axis=1).mean(axis=1, skipna=True)  # one bound if alone
    by = _year(_col(stations, "found_date")) - mid.astype("Float64")
    out["birth_year"] = by.round().astype("Int64")
    return out[SPLINK_COLUMNS]


def prepare_reports(reports: pd.DataFrame) -> pd.DataFrame:
    """Splink input columns for missing-person reports.

    birth_year from birth_date, else missing_date year minus age_at_missing when the
    ingest provides that column.
    """
    out = _common(reports, "report_id")
    out["alias_py"] = _first_alias_pinyin(_col(reports, "alias_clean"))
    # the syllables a nickname core may meet: the given name's and the aliases' (folded)
    keys = _col(reports, "given_pinyin").astype("string").fillna("") + "|" + _col(
        reports, "alias_pinyin").astype("string").fillna("")
    out["core_folded"] = [list(_syllables_folded(k)) or None for k in keys]
    by = _year(_col(reports, "birth_date"))
    if "age_at_missing" in reports.columns:
        age = pd.to_numeric(reports["age_at_missing"], errors="coerce").astype("Float64")
        by = by.fillna(_year(_col(reports, "missing_date")) - age)
    out["birth_year"] = by.round().astype("Int64")
    return out[SPLINK_COLUMNS]


# ---------------------------------------------------------------- Splink model


def blocking_rules() -> list[Any]:
    """Prediction blocking rules.

    Sized for ~10k stations x 500k reports: surname+gender alone would give ~60M
    pairs (王/李/张 are ~7% each), so it is split by birth decade, twice with a 5-year
    shift so that age errors up to 5 years never fall between blocks.
    """
    from splink import block_on

    decade = "floor(birth_year / 10)"
    shifted = "floor((birth_year + 5) / 10)"
    return [
        block_on("id_number"),
        block_on("surname_py", "gender", decade),
        block_on("surname_py", "gender", shifted),
        block_on("given_py"),
        # Same full name / nickname whatever the age and gender (usually already
        # covered by given_py, so nearly free).
        block_on("name_py"),
        block_on("alias_py"),
        # the derived keys xunqin blocks on: folded full name, folded given name + sex,
        # nickname core in the report's given-name syllables + sex + birth decade
        block_on("name_folded"),
        block_on("given_folded", "gender"),
        block_on("core_folded", "gender", decade, arrays_to_explode=["core_folded"]),
        # No usable name: same sex, hometown prefecture and birth decade (shifted
        # twice as above); prefectures are small, so this costs ~1M pairs at 500k.
        block_on("gender", "prefecture", decade),
        block_on("gender", "prefecture", shifted),
        block_on("gender", "birth_year", "province"),
    ]


# Guess (not measured) of the share of true pairs the deterministic rules catch: many
# station names are missing, misheard or only a nickname.
DETERMINISTIC_RECALL = 0.4


def deterministic_rules() -> list[Any]:
    """Rules that almost only hold for true pairs, for the prior (Splink's
    ``estimate_probability_two_random_records_match``)."""
    from splink import block_on

    return [
        block_on("id_number"),
        "l.name_py = r.name_py AND l.gender = r.gender "
        "AND abs(l.birth_year - r.birth_year) <= 3",
    ]


def em_blocking_rules() -> list[Any]:
    """EM training blocks, chosen so that true pairs are a visible share (~1%) of each.

    The comparisons whose columns a rule uses are not trained in its session, so the
    two sessions cover each other: the same full name trains the demographics, same
    sex + hometown prefecture + birth decade trains the names. Columns implied by the
    rule are named in it too (surname/given by the full name, province by the
    prefecture): else their always-agree level makes every blocked pair look like a
    match and EM collapses. Blocks on demographics alone (sex + birth year) hold ~1
    true pair in 10^5 and EM fits some other cluster (e.g. 'same province' came out
    as evidence *against* a match).
    """
    from splink import block_on

    # Names first: the name-blocked session starts from the prior times the name's
    # Bayes factor, which with untrained (default) name m values is ~1 and EM then
    # calls every same-name pair a match.
    return [
        block_on("gender", "province", "provinces", "prefecture", "floor(birth_year / 10)"),
        block_on("name_py", "surname_py", "given_py", "name_folded", "given_folded"),
    ]


def _abs_diff(col: str, thresholds: list[float], label: str) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    levels = [cll.NullLevel(col), cll.ExactMatchLevel(col)]
    levels += [cll.AbsoluteDifferenceLevel(col, t) for t in thresholds]
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(levels, output_column_name=label)


def comparisons() -> list[Any]:
    """Comparisons on the derived columns."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    name = cl.CustomComparison(
        [
            cll.NullLevel("name_py"),
            cll.ExactMatchLevel("name_py", term_frequency_adjustments=True),
            # Station nickname / report alias either way round.
            cll.CustomLevel(
                "name_py_l = alias_py_r OR alias_py_l = name_py_r "
                "OR alias_py_l = alias_py_r",
                label_for_charts="Name matches alias",
            ),
            cll.LevenshteinLevel("name_py", 1),
            cll.JaroWinklerLevel("name_py", 0.92),
            cll.JaroWinklerLevel("name_py", 0.8),
            cll.ElseLevel(),
        ],
        output_column_name="name_py",
    )
    core = cl.CustomComparison(
        [
            cll.CustomLevel("core_folded_l IS NULL OR core_folded_r IS NULL").configure(is_null_level=True),
            cll.CustomLevel(
                "list_has_any(core_folded_l, core_folded_r)", label_for_charts="Nickname core in given name"
            ),
            cll.ElseLevel(),
        ],
        output_column_name="core_folded",
    )
    return [
        name,
        cl.ExactMatch("name_folded"),
        cl.ExactMatch("given_folded").configure(term_frequency_adjustments=True),
        core,
        cl.ExactMatch("surname_py").configure(term_frequency_adjustments=True),
        # Given names repeat (秀英, 建国): a shared rare one says more.
        cl.JaroWinklerAtThresholds("given_py", [0.9, 0.8]).configure(
            term_frequency_adjustments=True
        ),
        cl.ExactMatch("gender"),
        _abs_diff("birth_year", [1, 3, 6, 10], "birth_year"),
        cl.ArrayIntersectAtSizes("provinces", [1]),
        cl.ExactMatch("prefecture"),
        _abs_diff("height_cm", [3, 8], "height_cm"),
        cl.ExactMatch("id_number"),
        cl.ArrayIntersectAtSizes("marks", [2, 1]),
    ]


def settings(n_reports: int) -> Any:
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="link_only",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=blocking_rules(),
        # Prior: about one true report per station record. It shifts every weight by
        # the same constant, so ranks do not depend on it.
        probability_two_random_records_match=1.0 / max(n_reports, 2),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


@contextlib.contextmanager
def _clamp_em_zero_probabilities() -> Iterator[None]:
    """Work around a Splink 5.0.0 defect: EM can drive an m (or u) value to exactly
    0.0 (e.g. 'province differs' when no true pair in the training blocks differs),
    and Splink's own setter then raises ``ValueError: m_probability value 0.0 is below
    the minimum allowed value of 1e-300``. Splink 4 kept the 0. We clamp such values
    to that minimum inside EM only (values that would not raise are untouched), so
    the run behaves as Splink intends (its match-weight code clamps the same way).
    """
    try:
        import splink.internals.expectation_maximisation as em
        from splink.internals.comparison_level import M_U_CLAMP_MIN
    except ImportError:  # internals moved: run unpatched
        yield
        return
    original = em.populate_m_u_from_lookup

    def clamped(fixed, level, output_column_name, lookup):  # type: ignore[no-untyped-def]
        for rec in lookup.get(output_column_name, {}).values():
            for key in ("m_probability", "u_probability"):
                v = rec.get(key)
                if isinstance(v, (int, float)) and v < M_U_CLAMP_MIN:
                    rec[key] = M_U_CLAMP_MIN
        return original(fixed, level, output_column_name, lookup)

    em.populate_m_u_from_lookup = clamped
    try:
        yield
    finally:
        em.populate_m_u_from_lookup = original


@contextlib.contextmanager
def _quiet_splink() -> Iterator[None]:
    """Splink logs every step at INFO; keep WARNING and above, restore afterwards."""
    saved = [(lg, lg.level) for lg in map(logging.getLogger, _SPLINK_LOGGERS)]
    for lg, _ in saved:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in saved:
            lg.setLevel(level)


def _db_api(threads: int) -> Any:
    import duckdb
    from splink import DuckDBAPI

    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET enable_progress_bar = false")
    return DuckDBAPI(connection=con)


def count_blocked_pairs(
    stations: pd.DataFrame, reports: pd.DataFrame, *, sample: float = 1.0
) -> pd.DataFrame:
    """Marginal and cumulative pair counts per prediction blocking rule (for sizing;
    ``sample`` < 1 estimates from a record sample, as Splink does)."""
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    with _quiet_splink():
        db = _db_api(2)
        dfs = [
            db.register(prepare_stations(stations), table_name=STATIONS),
            db.register(prepare_reports(reports), table_name=REPORTS),
        ]
        recs = count_comparisons_from_blocking_rules(
            dfs,
            blocking_rules=blocking_rules(),
            link_type="link_only",
            record_sample_proportion=sample,
        )
    return pd.DataFrame(recs)


def run_splink(
    stations: pd.DataFrame,
    reports: pd.DataFrame,
    *,
    top_k: int = 10,
    threads: int = 2,
    u_max_pairs: float = 1e7,
    em_max_pairs: float = 5e6,
    seed: int = 42,
) -> SplinkResult:
    """Train and run the Splink baseline; return the top_k reports per station record
    ranked by match weight (ties broken by report_id)."""
    if top_k < 1:
        raise ValueError("top_k must be >= 1")
    from splink import Linker

    t0 = time.perf_counter()
    st = prepare_stations(stations)
    rp = prepare_reports(reports)
    with _quiet_splink():
        db = _db_api(threads)
        dfs = [
            db.register(st, table_name=STATIONS),
            db.register(rp, table_name=REPORTS),
        ]
        linker = Linker(dfs, settings(len(rp)), log_level=None)
        tr = linker.training
        tr.estimate_probability_two_random_records_match(
            deterministic_rules(), recall=DETERMINISTIC_RECALL
        )
        tr.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
        with _clamp_em_zero_probabilities():
            for rule in em_blocking_rules():
                tr.estimate_parameters_using_expectation_maximisation(
                    rule, max_pairs=em_max_pairs, estimate_without_term_frequencies=True
                )
        pred = linker.inference.predict(warning_mode="never")
        candidates, n_pairs = _top_k(db, pred.physical_name, top_k)
    return SplinkResult(
        candidates=candidates, n_pairs=n_pairs, seconds=time.perf_counter() - t0
    )


def _top_k(db: Any, table: str, top_k: int) -> tuple[pd.DataFrame, int]:
    """Top-k per station record, in DuckDB (predictions can be tens of millions)."""
    con = db.duckdb_con
    n_pairs = int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    # link_only puts either table on the left; orient each pair by source_dataset.
    sql = f"""
        WITH oriented AS (
            SELECT
                CASE WHEN source_dataset_l = '{STATIONS}' THEN unique_id_l
                     ELSE unique_id_r END AS station_record_id,
                CASE WHEN source_dataset_l = '{STATIONS}' THEN unique_id_r
                     ELSE unique_id_l END AS report_id,
                match_weight AS score
            FROM {table}
        ), ranked AS (
            SELECT *, row_number() OVER (
                PARTITION BY station_record_id
                ORDER BY score DESC, report_id) AS rank
            FROM oriented
        )
        SELECT station_record_id, report_id, rank, score
        FROM ranked WHERE rank <= {int(top_k)}
        ORDER BY station_record_id, rank
    """
    df = con.execute(sql).df()
    df["rank"] = df["rank"].astype(np.int64)
    df["score"] = df["score"].astype(float)
    return df.reset_index(drop=True), n_pairs
