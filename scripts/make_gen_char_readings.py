"""Write data/gen_char_readings.csv: the generator's own character-reading table.

Run once by hand (``.venv/bin/python scripts/make_gen_char_readings.py``); the generator reads the
frozen CSV and never calls pypinyin, so its homophones do not follow pypinyin's default reading.
Source of the readings: the pinyin-data tables shipped in pypinyin (Unihan kHanyuPinyin, kXHC1983 =
《现代汉语词典》, kTGHZ2013 = 《通用规范汉字字典》). A reading is kept when it is the character's first
listed reading or is used by at least 3 entries of pypinyin's phrase dictionary (so 朝 keeps zhao,
王 loses the literary yu). Characters: the 3,755 level-1 characters of GB 2312 plus every character
of the generator's name model.
"""

from __future__ import annotations

import csv
import sys
import unicodedata
from datetime import date
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
MIN_PHRASE_USES = 3


def toneless(s: str) -> str:
    s = unicodedata.normalize("NFD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    return s.replace("ü", "v").lower()


def level1() -> list[str]:
    out = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            if hi == 0xD7 and lo > 0xF9:
                break
            out.append(bytes((hi, lo)).decode("gb2312"))
    return out


def name_model_chars() -> set[str]:
    chars: set[str] = set()
    for name, col in (("gen_given_names.csv", "text"), ("gen_surnames.csv", "surname")):
        lines = [ln for ln in (DATA / name).read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
        for row in csv.DictReader(lines):
            chars |= set(row[col])
    return chars


def main() -> int:
    from pypinyin.phrases_dict import phrases_dict
    from pypinyin.pinyin_dict import pinyin_dict

    uses: dict[tuple[str, str], int] = {}
    total: dict[str, int] = {}
    for phrase, readings in phrases_dict.items():
        if len(readings) != len(phrase):
            continue
        for c, r in zip(phrase, readings):
            key = (c, toneless(r[0]))
            uses[key] = uses.get(key, 0) + 1
            total[c] = total.get(c, 0) + 1
    base = level1()
    chars = base + sorted(c for c in name_model_chars() if c not in set(base))
    out = DATA / "gen_char_readings.csv"
    with out.open("w", encoding="utf-8", newline="") as f:
        f.write(
            "# Character readings for the xunqin sample generator (its own sound table; the generator never\n"
            "# calls pypinyin). Source: pinyin-data as shipped in pypinyin 0.55 (Unihan kHanyuPinyin, kXHC1983 =\n"
            "# 《现代汉语词典》, kTGHZ2013 = 《通用规范汉字字典》), readings made toneless (ü -> v). A reading is kept\n"
            f"# when it is listed first or used by >= {MIN_PHRASE_USES} entries of pypinyin's phrase dictionary.\n"
            "# readings = 'syllable:uses' separated by spaces, first = the character's main reading; uses =\n"
            "# phrase-dictionary entries with the character in that reading (a frequency proxy: no character\n"
            "# frequency list ships with the installed packages). Characters: GB 2312 level 1 + name-model\n"
            "# characters. Made by scripts/make_gen_char_readings.py.\n"
            f"# Licence: data of pinyin-data (MIT). Date: {date.today().isoformat()}.\n")
        w = csv.writer(f)
        w.writerow(["char", "readings"])
        for c in chars:
            listed = pinyin_dict.get(ord(c), "")
            if not listed:
                continue
            kept: list[str] = []
            for i, r in enumerate(listed.split(",")):
                t = toneless(r)
                if not t.isascii() or not t.isalpha() or any(k.split(":")[0] == t for k in kept):
                    continue
                n = uses.get((c, t), 0)
                if i == 0 or n >= MIN_PHRASE_USES:
                    kept.append(f"{t}:{n}")
            w.writerow([c, " ".join(kept)])
    print(out, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
