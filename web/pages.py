"""What the workstation's page modules share: rendering, role and CSRF checks, masked ID numbers.

The page modules (queue, person, search, family, upload, dashboard, stations) each add their
routes to the app in a ``register(app)`` function that :func:`xunqin.web.app.create_app` calls
(on the app itself, not an included router, so that ``app.routes`` lists every route); the
templates and the style sheet are the app's (``app.state``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse

from xunqin.ingest.reasons import mask_id_number, mask_ids_in_text

from . import auth

# Full ID numbers on the person page and in search results: the provincial reviewer and the
# police liaison (who check identities); station staff and admins see them masked.
CAN_SEE_FULL_ID = frozenset({"reviewer", "police"})
CAN_SEARCH = frozenset({"staff", "reviewer", "admin"})
CAN_UPLOAD = frozenset({"staff", "reviewer", "admin"})
CAN_DASHBOARD = frozenset({"reviewer", "admin"})
CAN_MANAGE_STATIONS = frozenset({"admin"})


def render(request: Request, name: str, user: auth.CurrentUser | None, code: int = 200, **ctx: Any) -> HTMLResponse:
    templates = request.app.state.templates
    return templates.TemplateResponse(request, name, {"user": user, "css": request.app.state.css, **ctx}, status_code=code)


def need(user: auth.CurrentUser, roles: frozenset[str]) -> None:
    if user.role not in roles:
        raise HTTPException(403, "您的角色无权访问此页面")


def check_csrf(user: auth.CurrentUser, token: str | None) -> None:
    if not auth.csrf_ok(user.csrf_token, token):
        raise HTTPException(403, "表单已过期或来源不明，请刷新页面后重试")


def sees_full_id(user: auth.CurrentUser) -> bool:
    return user.role in CAN_SEE_FULL_ID


def id_shown(value: Any, full: bool) -> str:
    """An ID number as the page shows it: full, or first 6 and last 4."""
    text = "" if value is None else str(value).strip()
    return text if full or not text else mask_id_number(text)


def text_shown(value: Any, full: bool) -> str:
    """Free text (notes, marks) with any ID-number-shaped run masked unless ``full``."""
    text = "" if value is None else str(value).strip()
    return text if full else mask_ids_in_text(text)


def parse_day(text: str | None, what: str = "日期") -> dt.date | None:
    """A date field of a form or query (empty -> None); 400 in Chinese when it is not a date."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise HTTPException(400, f"{what}格式应为 年-月-日（如 2024-05-01）") from None


def clip(text: str | None, limit: int) -> str:
    return (text or "").strip()[:limit]
