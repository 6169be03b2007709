"""Columns of the two exchange-file kinds (see the shared exchange-format note).

Each column has its English name, the Chinese header of the format and the header variants
seen in real exports. ``序号`` is deliberately absent: it is a row counter, not a record id, so
a file that has 序号 but no 编号 is refused for a missing id column rather than keyed on row
numbers.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Kind = Literal["stations", "reports", "police"]
KINDS: tuple[Kind, ...] = ("stations", "reports", "police")  # police: verification results


@dataclass(frozen=True)
class Column:
    """One column of an exchange file."""

    name: str  # English name, also the key used downstream
    chinese: str  # header as written in the exchange format
    variants: tuple[str, ...] = ()  # further headers accepted (English or Chinese)
    required: bool = False
    date: bool = False  # XLSX serial numbers in this column are dates
    free_text: bool = False  # giant values are clipped and kept, not rejected

    def headers(self) -> tuple[str, ...]:
        """Every header (normalized) that maps to this column."""
        return tuple(dict.fromkeys(normalize_header(h) for h in (self.name, self.chinese, *self.variants)))


_ID_NUMBER = Column(
    "id_number", "身份证号", ("身份证号码", "身份证", "公民身份号码", "公民身份证号", "身份证件号码", "证件号码", "id_no")
)
_GENDER = Column("gender", "性别", ("sex",))
_HEIGHT = Column("height_cm", "身高", ("身高(cm)", "身高(厘米)", "身高cm", "height"))
_FEATURES = Column("features", "体貌特征", ("特征", "体表特征", "外貌特征", "特殊特征"), free_text=True)

STATION_COLUMNS: tuple[Column, ...] = (
    Column("record_id", "编号", ("记录编号", "救助编号", "档案编号", "受助编号", "受助人员编号"), required=True),
    Column("station", "救助站", ("救助管理站", "救助机构", "救助单位", "所属救助站", "站点"), required=True),
    Column("name", "姓名", ("名字", "受助人姓名", "受助人员姓名")),
    _GENDER,
    Column("estimated_age", "估计年龄", ("年龄", "预估年龄", "估算年龄", "大约年龄", "age")),
    Column("found_date", "救助日期", ("受助日期", "发现日期", "入站日期", "求助日期", "救助时间", "date_found"), required=True, date=True),
    Column("found_place", "发现地点", ("救助地点", "发现地址", "受助地点"), free_text=True),
    Column("hometown", "自述籍贯", ("籍贯", "自述地址", "自述家庭住址", "自述住址", "自述户籍")),
    Column("dialect", "口音", ("方言", "语言", "口音方言")),
    _HEIGHT,
    _FEATURES,
    _ID_NUMBER,
    Column("notes", "备注", ("说明", "其他信息", "remarks", "remark"), free_text=True),
)

REPORT_COLUMNS: tuple[Column, ...] = (
    Column("report_id", "编号", ("报告编号", "寻人编号", "登记编号", "案件编号", "寻亲编号"), required=True),
    Column("source", "来源", ("信息来源", "报告来源", "登记来源")),
    Column("name", "姓名", ("名字", "走失人姓名", "失踪人姓名", "被寻人姓名"), required=True),
    Column("aliases", "曾用名/小名", ("曾用名", "小名", "别名", "乳名", "曾用名或小名", "alias")),
    _GENDER,
    Column("birth_date", "出生日期", ("出生年月", "出生年月日", "生日", "出生时间", "dob", "date_of_birth"), date=True),
    Column("age_at_missing", "走失时年龄", ("走失年龄", "失踪时年龄", "失踪年龄")),
    _ID_NUMBER,
    Column("missing_date", "走失日期", ("失踪日期", "走失时间", "失踪时间", "date_missing"), required=True, date=True),
    Column("missing_place", "走失地点", ("失踪地点", "走失地址", "失踪地址"), free_text=True),
    Column("hometown", "户籍地址", ("户籍地", "户籍", "户籍所在地", "家庭住址", "家庭地址")),
    _HEIGHT,
    _FEATURES,
    Column("contact_phone", "联系电话", ("电话", "联系方式", "手机", "手机号", "手机号码", "联系人电话", "phone")),
)

# Police verification results (公安核查结果): pairs the workstation exported, checked by DNA,
# fingerprints or face comparison.
POLICE_COLUMNS: tuple[Column, ...] = (
    Column("station_record_id", "受助人员编号", ("救助站记录编号", "受助编号", "station_record"), required=True),
    Column("report_id", "寻人启事编号", ("寻人编号", "寻亲编号", "报告编号", "report"), required=True),
    Column("result", "核查结果", ("比对结果", "核查结论", "结果", "verification_result"), required=True),
    Column("method", "核查方式", ("核查方法", "比对方式", "verification_method")),
    Column("verified_date", "核查日期", ("比对日期", "核查时间", "date_verified", "verification_date"), date=True),
    Column("note", "备注", ("说明", "remarks", "remark"), free_text=True),
)

_COLUMNS: dict[str, tuple[Column, ...]] = {"stations": STATION_COLUMNS, "reports": REPORT_COLUMNS, "police": POLICE_COLUMNS}

# Zero-width characters and BOMs that survive NFKC and sneak into copied headers.
_INVISIBLE = re.compile("[\u200b-\u200f\u2060\ufeff\u00ad]")
# A trailing "required" marker or colon: "姓名*", "姓名：" (NFKC turns ： into :).
_DECORATION = re.compile(r"^[*※]+|[*※:]+$")


def columns(kind: Kind) -> tuple[Column, ...]:
    """Columns of ``kind`` ('stations' or 'reports')."""
    try:
        return _COLUMNS[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}") from None


def normalize_header(header: object) -> str:
    """Header text to its comparison form: NFKC, no spaces or decoration, lower-case."""
    if header is None:
        return ""
    text = unicodedata.normalize("NFKC", str(header))
    text = _INVISIBLE.sub("", text)
    text = re.sub(r"\s+", "", text).lower()
    text = _DECORATION.sub("", text)
    return text.replace("-", "_")


def header_map(kind: Kind) -> dict[str, str]:
    """Normalized header -> English column name, for every accepted header of ``kind``."""
    mapping: dict[str, str] = {}
    for col in columns(kind):
        for h in col.headers():
            mapping.setdefault(h, col.name)
    return mapping


def key_column(kind: Kind) -> str:
    """The column that keys a record of ``kind``."""
    return {"stations": "record_id", "reports": "report_id", "police": "station_record_id"}[kind]


def column(kind: Kind, name: str) -> Column:
    """The column ``name`` of ``kind``."""
    for col in columns(kind):
        if col.name == name:
            return col
    raise KeyError(name)
