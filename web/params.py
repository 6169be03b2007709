"""Query and form parameters checked into range: a wrong one is a 400 with a Chinese message.

A form of the workstation only ever sends values in range (its selects hold the choices, its
date boxes calendar days); anything else was typed into the address bar or forged, and is
answered 400, never taken silently, never a 500.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from fastapi import HTTPException

# Dates the workstation handles (found, missing, decided): within these years. Python's own
# limits (years 1..9999) broke the export's day arithmetic at the edges.
MIN_DAY = dt.date(1900, 1, 1)
MAX_DAY = dt.date(2100, 12, 31)
MAX_ROW_ID = 2**63 - 1  # a BIGINT; SQLite refuses larger integers
# Chinese names of the parameters, for the 400 page.
NAMES = {
    "date_from": "开始日期", "date_to": "结束日期", "station": "救助站", "fmt": "格式", "before": "翻页位置",
    "action": "操作", "actor": "用户", "gender": "性别", "age": "年龄段", "status": "状态", "after": "翻页位置",
    "next": "跳转地址", "username": "用户名", "password": "密码", "csrf_token": "表单令牌", "report_id": "寻人编号",
    "decision": "标记", "note": "备注", "record_id": "站内编号",
    # the working day's pages
    "found_from": "救助日期（起）", "found_to": "救助日期（止）", "province": "籍贯省份", "band": "最高概率",
    "sort": "排序", "page": "页码", "ids": "身份证号显示", "saved": "已保存的寻人编号", "name": "姓名",
    "id_number": "身份证号", "number": "编号", "place": "地点", "scope": "范围", "kind": "类别", "token": "上传编号",
    "code": "代码", "prefecture": "所在地市", "active": "状态", "station_id": "救助站",
}


class BadParameter(HTTPException):
    """A parameter out of range (400)."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


def name(param: str) -> str:
    return NAMES.get(param, param)


def day(text: str, default: dt.date, param: str) -> dt.date:
    """A calendar day written 年-月-日 within MIN_DAY..MAX_DAY; ``default`` when empty."""
    if not text:
        return default
    try:
        value = dt.date.fromisoformat(text)
    except ValueError:
        raise BadParameter(f"{name(param)}格式应为 年-月-日，如 2025-01-31") from None
    if not MIN_DAY <= value <= MAX_DAY:
        raise BadParameter(f"{name(param)}应在 {MIN_DAY.year} 年至 {MAX_DAY.year} 年之间")
    return value


def choice(text: str, allowed: Collection[str], param: str) -> str:
    """One of ``allowed`` or empty (no filter)."""
    if text and text not in allowed:
        raise BadParameter(f"{name(param)}应为：{'、'.join(allowed)}")
    return text
