"""What characters a cell may hold: control, invisible and text-direction characters, and
values that a spreadsheet would run as a formula.

Each cell is cleaned where cleaning keeps its meaning, and refused where it would not, with a
reason that names what was found (as ``U+001F``: the characters themselves never reach a
rejects report, a log or the database):

* NUL (encoding damage) is removed everywhere, as before;
* other C0 and C1 control characters (U+0001..U+001F but tab, line feed and carriage return;
  U+007F..U+009F) stand where a separator was: in a record or report id they are removed; in a
  name, one between two characters is refused (one name or two?); elsewhere each is a space
  (ID numbers, phones and dates drop spaces; aliases split on them; free text keeps words apart);
* invisible characters (zero-width space, joiners, left-to-right / right-to-left marks, word
  joiner, soft hyphen, BOM) are removed everywhere;
* text-direction controls (embeddings, overrides, isolates: U+202A..U+202E, U+2066..U+2069) make
  a screen show the text in another order than it is stored: a value where the order is the
  meaning (an id, a name, an ID number, a phone, a date, an age, a height, a gender) is refused;
  from free text they are removed;
* a name or an address starting with ``=``, ``+``, ``-`` or ``@`` (also after blanks, or
  full-width) is refused: it is a spreadsheet formula or a mistake, not a name or a place.
"""

from __future__ import annotations

import re

NUL_REMOVED = "NUL characters removed"
CONTROL_REMOVED = "control characters removed ({chars})"
CONTROL_SPACED = "control characters replaced by spaces ({chars})"
CONTROL_IN_NAME = "control character inside a name: one name or two? ({chars})"
INVISIBLE_REMOVED = "invisible characters removed ({chars})"
DIRECTION_REMOVED = "text-direction characters removed ({chars})"
DIRECTION_REFUSED = "text-direction characters: the text shown is not the text stored ({chars})"
FORMULA = "starts like a spreadsheet formula (=, +, -, @)"

# Anything this module acts on; a file without any is not looked at cell by cell.
SUSPECT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")
_CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060\ufeff]")
_DIRECTION = re.compile("[\u202a-\u202e\u2066-\u2069]")
FORMULA_FIRST = frozenset("=+-@＝＋－＠")
BLANKS = " \t\r\n\u3000\u00a0"

# Columns where the order of the characters is the value: direction controls refuse it.
ORDERED_COLUMNS = frozenset({
    "record_id", "report_id", "name", "gender", "estimated_age", "found_date", "birth_date", "age_at_missing",
    "missing_date", "height_cm", "id_number", "contact_phone",
})
KEY_COLUMNS = frozenset({"record_id", "report_id"})
NAME_COLUMNS = frozenset({"name"})
FORMULA_COLUMNS = frozenset({"name", "aliases", "found_place", "missing_place", "hometown"})


def _codes(found: list[str]) -> str:
    return ", ".join(f"U+{ord(ch):04X}" for ch in dict.fromkeys(found))


def clean_cell(text: str, column: str) -> tuple[str | None, list[tuple[str, str, str]]]:
    """(cleaned text, or None when the value is refused; [(reason, severity, text shown)]).

    The text shown with each problem is the cleaned text (or, for a refusal, the text with
    the offending characters taken out)."""
    problems: list[tuple[str, str]] = []
    refused = False
    if "\x00" in text:
        text = text.replace("\x00", "")
        problems.append((NUL_REMOVED, "warning"))
    if found := _INVISIBLE.findall(text):
        text = _INVISIBLE.sub("", text)
        problems.append((INVISIBLE_REMOVED.format(chars=_codes(found)), "warning"))
    if found := _DIRECTION.findall(text):
        text = _DIRECTION.sub("", text)
        if column in ORDERED_COLUMNS:
            problems.append((DIRECTION_REFUSED.format(chars=_codes(found)), "error"))
            refused = True
        else:
            problems.append((DIRECTION_REMOVED.format(chars=_codes(found)), "warning"))
    if found := _CONTROL.findall(text):
        chars = _codes(found)
        if column in KEY_COLUMNS:
            text = _CONTROL.sub("", text)
            problems.append((CONTROL_REMOVED.format(chars=chars), "warning"))
        elif column in NAME_COLUMNS and _CONTROL.search(text.strip(BLANKS + "".join(found))):
            text = _CONTROL.sub(" ", text)
            problems.append((CONTROL_IN_NAME.format(chars=chars), "error"))
            refused = True
        else:
            text = _CONTROL.sub(" ", text)
            problems.append((CONTROL_SPACED.format(chars=chars), "warning"))
    if refused:  # the one error is the reason; what was cleaned on the way does not matter
        return None, [(reason, severity, text) for reason, severity in problems if severity == "error"]
    return text, [(reason, severity, text) for reason, severity in problems]


def looks_like_formula(text: str) -> bool:
    """A value starting (after blanks) with =, +, -, @ or their full-width forms; a value of
    only dashes is a blank marker, not a formula."""
    lead = text.lstrip(BLANKS)
    return bool(lead) and lead[0] in FORMULA_FIRST and bool(lead.strip("-－—" + BLANKS))
