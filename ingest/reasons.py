"""Reject reasons in Chinese for station staff, and ID numbers masked in what rejects show.

A reject keeps its English reason code (``reason``: stored, tested, stable) and gets the text a
person reads (``reason_zh``) from :data:`REASONS`. A few codes carry a detail (a column, a row,
an inner reason); their table keys hold ``{placeholders}`` that :func:`reason_text` fills in.
"""

from __future__ import annotations

import re
from functools import cache

from xunqin.normalizers.dates import MAX_YEAR, MIN_YEAR

from .read import MAX_FIELD
from .schema import REPORT_COLUMNS, STATION_COLUMNS

# Reason code -> Chinese text. Placeholders: {column} (an English column name, shown by its
# Chinese header), {row} (a row number), {why} (an inner reason code), {error} (an error type).
REASONS: dict[str, str] = {
    # ---- whole rows (severity 'refused')
    "empty {column}: row refused": "{column}为空：整行未收",
    "duplicate {column} (first at row {row}): row refused": "{column}重复（第{row}行已有）：整行未收",
    "{column} unreadable ({why}): row refused": "{column}无法读取（{why}）：整行未收",
    "row truncated: fewer cells than the header (file cut short?)": "行不完整：比表头少了几列（文件可能被截断）",
    "row truncated: text cut inside a character (file cut short?)": "行不完整：文字在半个字处断开（文件可能被截断）",
    # ---- reading a cell
    "formula without a cached value (not evaluated): type the value": "公式没有计算结果（不会执行公式）：请直接填写数值",
    "not a finite number": "不是有效的数字",
    "ID number stored as an Excel number: digits were lost; format the column as text":
        "身份证号被Excel存成了数字，后几位已丢失：请把这一列设为文本格式后重新填写",
    "NUL characters removed": "已删除空字符（NUL）",
    "control characters removed ({chars})": "已删除控制字符（{chars}）",
    "control characters replaced by spaces ({chars})": "已把控制字符换成空格（{chars}）",
    "control character inside a name: one name or two? ({chars})": "姓名中间有控制字符，无法判断是一个名字还是两个（{chars}），未收",
    "invisible characters removed ({chars})": "已删除看不见的字符（{chars}）",
    "text-direction characters removed ({chars})": "已删除文字方向控制字符（{chars}）",
    "text-direction characters: the text shown is not the text stored ({chars})":
        "含有文字方向控制字符，屏幕显示的顺序与实际内容不同（{chars}），未收",
    "starts like a spreadsheet formula (=, +, -, @)": "以=、+、-、@开头，像电子表格公式，未收",
    "Excel error value": "Excel错误值（如#N/A）",
    f"longer than {MAX_FIELD} characters: clipped": f"超过{MAX_FIELD}字，已截断",
    f"longer than {MAX_FIELD} characters": f"超过{MAX_FIELD}字，未收",
    "unreadable value": "无法识别的值",
    "could not be read ({error})": "无法读取（程序错误 {error}，请报告技术人员）",
    # ---- cross-field checks (severity 'warning': both values kept)
    "required value empty ({column})": "必填项为空（{column}）",
    "gender differs from the ID number's gender (both kept)": "性别与身份证号显示的性别不一致（两者都保留）",
    "estimated age far from the age given by the ID number (both kept)": "估计年龄与身份证号推算的年龄相差很大（两者都保留）",
    "birth date differs from the ID number's birth date (both kept)": "出生日期与身份证号中的出生日期不一致（两者都保留）",
    "age at missing disagrees with birth and missing dates (both kept)": "走失时年龄与出生日期、走失日期对不上（两者都保留）",
    "missing date before the birth date (both kept)": "走失日期早于出生日期（两者都保留）",
    # ---- ages
    "age range out of order or out of 0..120": "年龄范围颠倒或超出0到120岁",
    "empty numeral": "中文数字为空",
    "not a Chinese numeral": "不是中文数字",
    "negative age": "年龄是负数",
    "implausible age (>120)": "年龄不合理（超过120岁）",
    "too long for an age": "内容太长，不像年龄",
    "birth-decade form (e.g. 50后) needs a reference date": "“50后”这类写法无法换算成年龄，请填写岁数",
    "unreadable age range": "年龄范围无法识别",
    "too many months for an infant age": "月龄过大（按月写的年龄最多36个月）",
    "age range reversed": "年龄范围前大后小",
    "unreadable age": "年龄无法识别",
    "boolean is not an age": "逻辑值不是年龄",
    "unsupported type for an age": "年龄的数据类型无法识别",
    "not a single whole age": "不是一个整岁年龄",
    "age is not a whole number": "年龄不是整岁",
    # ---- dates
    f"year outside {MIN_YEAR}..{MAX_YEAR}": f"年份不在{MIN_YEAR}到{MAX_YEAR}之间",
    "day without month": "有日无月",
    "invalid month": "月份不对",
    "invalid day for month": "这个月没有这一天",
    "number is not a date": "数字不是日期",
    "unreadable date": "日期无法识别",
    "too long for a date": "内容太长，不像日期",
    "boolean is not a date": "逻辑值不是日期",
    "unsupported type for a date": "日期的数据类型无法识别",
    # ---- gender
    "too long for a gender": "内容太长，不像性别",
    "unreadable gender": "性别无法识别",
    "unreadable gender code": "性别代码无法识别",
    "boolean is not a gender": "逻辑值不是性别",
    "unsupported type for a gender": "性别的数据类型无法识别",
    # ---- heights
    "implausible height (outside 40..230 cm)": "身高不合理（不在40到230厘米之间）",
    "too long for a height": "内容太长，不像身高",
    "chi/feet units not supported": "不支持尺、英尺等单位，请换算成厘米",
    "height range reversed": "身高范围前大后小",
    "unreadable height": "身高无法识别",
    "boolean is not a height": "逻辑值不是身高",
    "unsupported type for a height": "身高的数据类型无法识别",
    # ---- ID numbers
    "check digit": "身份证号校验位不对",
    "check digit needs exactly 17 ASCII digits": "身份证号前17位应全是数字",
    "invalid birth date": "身份证号中的出生日期不对",
    "15-digit ID must be all digits": "15位身份证号应全是数字",
    "invalid characters in ID number": "身份证号含有无效字符",
    "ID number must have 18 (or 15) characters": "身份证号应为18位（或旧版15位）",
    "invalid region code": "身份证号的地区代码不对",
    "too long for an ID number": "内容太长，不像身份证号",
    "ID number stored as a number lost its digits": "身份证号被存成了数字，已丢失位数",
    "boolean is not an ID number": "逻辑值不是身份证号",
    "unsupported type for an ID number": "身份证号的数据类型无法识别",
    # ---- phone numbers
    "phone number too short (cut off?)": "电话号码位数不够（可能被截断）",
    "phone number too long": "电话号码位数太多",
    "not a mobile or landline number": "不是手机号或固定电话号码",
    "unreadable phone number": "电话号码无法识别",
    "too long for a phone number": "内容太长，不像电话号码",
    "boolean is not a phone number": "逻辑值不是电话号码",
    "unsupported type for a phone number": "电话号码的数据类型无法识别",
    # ---- places
    "place is not text": "地点不是文字",
    # ---- uploads in the workstation (a station export names stations of the list)
    "station not on the stations list: row refused": "救助站不在救助站名单中：整行未收（请改正站名，或请管理员登记该站）",
    "station is not the uploader's station: row refused": "不是您所在救助站的记录：整行未收",
}

# Why a whole file was refused (FileRefused.why) -> Chinese; {x} parts are carried over.
FILE_REASONS: tuple[tuple[str, str], ...] = (
    (r"file not found", "找不到文件"),
    (r"is a directory, not a file", "这是文件夹，不是文件"),
    (r"cannot read file \((?P<x>.*)\)", "无法读取文件（{x}）"),
    (r"empty file", "文件是空的"),
    (r"legacy \.xls or encrypted workbook: save as \.xlsx or CSV \(UTF-8\)", "旧版 .xls 或加密的工作簿：请另存为 .xlsx 或 CSV（UTF-8）"),
    (r"UTF-16 encoding is not accepted: save as CSV UTF-8 or GB18030", "不接受 UTF-16 编码：请另存为 CSV（UTF-8 或 GB18030）"),
    (r"file holds NUL bytes \(UTF-16 or binary\?\): save as CSV UTF-8 or GB18030",
     "文件里有空字节（可能是 UTF-16 或二进制文件）：请另存为 CSV（UTF-8 或 GB18030）"),
    (r"unknown text encoding \(neither UTF-8 nor GB18030\)", "无法识别文字编码（既不是 UTF-8 也不是 GB18030）：请另存为 CSV（UTF-8）"),
    (r"malformed CSV \((?P<x>.*)\)", "CSV 格式有误（{x}）"),
    (r"not a readable XLSX workbook \((?P<x>.*)\)", "不是能读取的 XLSX 工作簿（{x}）"),
    (r"workbook has no worksheet", "工作簿里没有工作表"),
    (r"no header row: none of the first (?P<x>\d+) rows names the (?P<kind>stations|reports|police) columns",
     "找不到表头：前 {x} 行里没有{kind}的列名"),
    (r"duplicate header: two columns map to (?P<column>\w+) \((?P<x>.*)\)", "表头重复：两列都对应“{column}”（{x}）"),
    (r"required column missing \((?P<x>.*)\)", "缺少必填的列（{x}）"),
)
_KIND_TEXT = {"stations": "救助站记录", "reports": "寻人启事", "police": "公安核查结果"}

_GENERIC = "数据有问题（{code}）"
_PLACEHOLDER = re.compile(r"\{(column|row|why|error|chars)\}")
_PLACEHOLDER_PATTERN = {"column": r"[a-z_]+", "row": r"\d+", "why": r".+", "error": r"\w+",
                        "chars": r"U\+[0-9A-F]{4,6}(?:, U\+[0-9A-F]{4,6})*"}


@cache
def _templates() -> tuple[tuple[re.Pattern[str], str], ...]:
    """(regex matching a code with details, its Chinese template) for every key with placeholders."""
    out = []
    for code, text in REASONS.items():
        if not _PLACEHOLDER.search(code):
            continue
        pattern, pos = [], 0
        for m in _PLACEHOLDER.finditer(code):
            pattern.append(re.escape(code[pos:m.start()]))
            pattern.append(f"(?P<{m.group(1)}>{_PLACEHOLDER_PATTERN[m.group(1)]})")
            pos = m.end()
        pattern.append(re.escape(code[pos:]))
        out.append((re.compile("".join(pattern)), text))
    return tuple(out)


@cache
def _column_names() -> dict[str, str]:
    """English column -> Chinese header (a name both kinds use with different headers shows both)."""
    names: dict[str, list[str]] = {}
    for col in (*STATION_COLUMNS, *REPORT_COLUMNS):
        headers = names.setdefault(col.name, [])
        if col.chinese not in headers:
            headers.append(col.chinese)
    return {name: "/".join(headers) for name, headers in names.items()}


def column_text(column: str) -> str:
    """A column's Chinese header (the English name when it is not an exchange column)."""
    return _column_names().get(column, column)


def reason_text(code: str) -> str:
    """The Chinese reason for a reject's English code; an unknown code gives a generic text with it."""
    code = str(code)
    text = REASONS.get(code)
    if text is not None and not _PLACEHOLDER.search(code):
        return text
    for pattern, template in _templates():
        m = pattern.fullmatch(code)
        if m is None:
            continue
        parts = m.groupdict()
        if "column" in parts:
            parts["column"] = column_text(parts["column"])
        if "why" in parts:
            parts["why"] = reason_text(parts["why"])
        return template.format(**parts)
    return _GENERIC.format(code=code)


def mask_id_number(value: object) -> str:
    """An ID number as rejects show it: first 6 and last 4 characters kept, the rest ``*``.

    A value too short for that keeps at most a quarter of its characters at each end, so at
    least half is always hidden (``12345`` -> ``1***5``, ``123`` -> ``***``).
    """
    text = "" if value is None else str(value).strip()
    n = len(text)
    if n >= 15:
        head, tail = 6, 4
    else:
        head = tail = n // 4
    return text[:head] + "*" * (n - head - tail) + text[n - tail:]


# An 18-character resident ID inside other text (a phone or notes cell holding one).
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")


def mask_ids_in_text(text: str) -> str:
    """``text`` with every ID-number-shaped run (17 digits and a digit or X) masked."""
    if len(text) < 18:
        return text
    return _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group(0)), text)


def file_reason_text(why: str) -> str:
    """The Chinese text for why a whole file was refused (:class:`FileRefused` ``why``)."""
    for pattern, template in FILE_REASONS:
        m = re.fullmatch(pattern, str(why))
        if m is None:
            continue
        parts = m.groupdict()
        if "kind" in parts:
            parts["kind"] = _KIND_TEXT[parts["kind"]]
        if "column" in parts:
            parts["column"] = column_text(parts["column"])
        return template.format(**parts)
    return f"文件无法读取（{why}）"
