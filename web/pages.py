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


def need(s: Any, request: Request, user: auth.CurrentUser, roles: frozenset[str]) -> None:
    """403 (audited, as the app's own pages) unless the user's role is one of ``roles``."""
    request.app.state.guard.need(s, request, user, roles)


def check_csrf(s: Any, request: Request, user: auth.CurrentUser, token: Any) -> None:
    """403 (audited) unless ``token`` is the session's form token; checked before anything else."""
    request.app.state.guard.check_csrf(s, request, user, token if isinstance(token, str) else None)


def deny(s: Any, request: Request, user: auth.CurrentUser, status: int, message: str, reason: str, **entity: Any) -> HTTPException:
    """An audited refusal to raise (a record of another station answers as one not there)."""
    return request.app.state.guard.deny(s, request, user, status, message, reason, **entity)


def ip(request: Request) -> str:
    from .app import client_ip

    return client_ip(request)


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


def parse_day(text: str | None, param: str) -> dt.date | None:
    """A date field of a form or query (empty -> None); a 400 in Chinese (xunqin.web.params)
    when it is not a day within the years the workstation handles."""
    from . import params

    text = (text or "").strip()
    return params.day(text, None, param) if text else None  # type: ignore[arg-type]


def clip(text: str | None, limit: int) -> str:
    return (text or "").strip()[:limit]
