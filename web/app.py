"""The review workstation: FastAPI app, server-rendered Chinese pages.

Every route needs a session except the login form; wrong role or wrong station -> 403. Forms
carry a per-session CSRF token. Page responses are never cached (they hold personal data).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker

from xunqin.store import db, audit_log
from xunqin.store.models import AuditLog

from . import auth, export, person, queue
from .labels import DECISION_HELP, local_time

COOKIE = "xq_session"
LOGIN_CSRF_COOKIE = "xq_login_csrf"
STATIC = ("app.css",)
AUDIT_PAGE = 100


class LoginRequired(Exception):
    """Raised by the auth dependency; answered with a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__("login required")
        self.next_path = next_path


def _templates() -> Jinja2Templates:
    t = Jinja2Templates(directory=str(files("xunqin.web") / "templates"))
    t.env.globals.update(role_labels=auth.ROLE_LABELS, decision_help=DECISION_HELP)
    return t


def _safe_next(path: str | None) -> str:
    """Only local paths after login (no open redirect to another site)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path or len(path) > 500:
        return "/"
    return path


def _ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@cache
def _css() -> str:
    return (files("xunqin.web") / "static" / "app.css").read_text(encoding="utf-8")


def get_db(request: Request) -> Iterator[Session]:
    """A database session per request (the routes commit what they write)."""
    maker: sessionmaker[Session] = request.app.state.sessions
    with maker() as s:
        yield s


DB = Annotated[Session, Depends(get_db)]


def current_user(request: Request, s: DB) -> auth.CurrentUser:
    """The logged-in user, or LoginRequired (-> redirect to /login)."""
    user = auth.load_session(s, request.cookies.get(COOKIE))
    s.commit()  # session touch, or removal of an expired one
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target if request.method == "GET" else "/")
    return user


User = Annotated[auth.CurrentUser, Depends(current_user)]


def create_app(url: str | None = None, *, secure_cookies: bool = False, migrate: bool = True) -> FastAPI:
    """The app over the database at ``url`` (schema brought to head unless ``migrate`` is False)."""
    url = db.database_url(url)
    if migrate:
        db.upgrade(url)
    app = FastAPI(title="寻亲工作站", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sessions = db.sessions(url)
    templates = _templates()
    css = _css()
    app.state.templates, app.state.css, app.state.url = templates, css, url

    def need(user: auth.CurrentUser, roles: frozenset[str]) -> None:
        if user.role not in roles:
            raise HTTPException(403, "您的角色无权访问此页面")

    def check_csrf(user: auth.CurrentUser, token: str | None) -> None:
        if not auth.csrf_ok(user.csrf_token, token):
            raise HTTPException(403, "表单已过期或来源不明，请刷新页面后重试")

    def render(request: Request, name: str, user: auth.CurrentUser | None, code: int = 200, **ctx: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"user": user, "css": css, **ctx}, status_code=code)

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/login?next=" + quote(_safe_next(exc.next_path), safe=""), status_code=303)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        titles = {400: "请求有误", 403: "无权访问", 404: "未找到", 405: "不支持的操作", 429: "尝试次数过多"}
        return render(request, "error.html", None, code=exc.status_code,
                      title=titles.get(exc.status_code, "出错了"), message=str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        return render(request, "error.html", None, code=400, title="请求有误", message="参数不正确或过长")

    @app.middleware("http")
    async def _headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")
        return response

    def set_cookie(response: Response, key: str, value: str, max_age: int | None) -> None:
        response.set_cookie(key, value, max_age=max_age, httponly=True, samesite="strict" if key == LOGIN_CSRF_COOKIE else "lax",
                            secure=secure_cookies, path="/")

    # ------------------------------------------------------------------ login / logout

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/") -> Response:
        token = secrets.token_urlsafe(24)
        response = render(request, "login.html", None, next=_safe_next(next), login_csrf=token, error=None)
        set_cookie(response, LOGIN_CSRF_COOKIE, token, 3600)
        return response

    @app.post("/login")
    def login(request: Request, s: DB, username: Annotated[str, Form(max_length=200)] = "",
              password: Annotated[str, Form(max_length=1024)] = "", csrf_token: Annotated[str, Form(max_length=200)] = "",
              next: Annotated[str, Form(max_length=500)] = "/") -> Response:
        def again(message: str, status: int) -> Response:
            token = secrets.token_urlsafe(24)
            response = render(request, "login.html", None, code=status, next=_safe_next(next), login_csrf=token,
                              error=message, username=username[:100])
            set_cookie(response, LOGIN_CSRF_COOKIE, token, 3600)
            return response

        if not auth.csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
            return again("页面已过期，请重新登录", 403)
        ip = _ip(request)
        name = username.strip()[:100]
        if auth.throttled(s, name, ip):
            audit_log.add(s, name or "-", "login_throttled", detail={"ip": ip})
            s.commit()
            return again(f"登录失败次数过多，请 {int(auth.FAILURE_WINDOW.total_seconds() // 60)} 分钟后再试", 429)
        user = auth.check_login(s, name, password, ip)
        if user is None:
            audit_log.add(s, name or "-", "login_failed", detail={"ip": ip})
            s.commit()
            return again("用户名或密码错误", 401)
        token = auth.new_session(s, user)
        audit_log.add(s, user.username, "login", entity="user", entity_id=str(user.id), detail={"ip": ip})
        s.commit()
        home = "/export" if user.role == "police" else "/queue"
        target = _safe_next(next)
        response = RedirectResponse(home if target == "/" else target, status_code=303)
        set_cookie(response, COOKIE, token, auth.SESSION_HOURS * 3600)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return response

    @app.post("/logout")
    def logout(request: Request, s: DB, user: User, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
        check_csrf(user, csrf_token)
        auth.end_session(s, request.cookies.get(COOKIE))
        audit_log.add(s, user.username, "logout", entity="user", entity_id=str(user.id))
        s.commit()
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # ------------------------------------------------------------------ pages

    @app.get("/")
    def home(user: User) -> Response:
        return RedirectResponse("/export" if user.role == "police" else "/queue", status_code=303)

    @app.get("/static/{name}")
    def static(name: str, user: User) -> Response:
        if name not in STATIC:
            raise HTTPException(404, "文件不存在")
        return Response(css, media_type="text/css", headers={"Cache-Control": "private, max-age=3600"})

    # ------------------------------------------------------------------ export

    def parse_day(text: str, default: dt.date) -> dt.date:
        if not text:
            return default
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise HTTPException(400, "日期格式应为 年-月-日") from None

    @app.get("/export", response_class=HTMLResponse)
    def export_page(request: Request, s: DB, user: User, date_from: str = "", date_to: str = "", station: str = "") -> Response:
        need(user, auth.CAN_EXPORT)
        today = dt.datetime.now(export.CST).date()
        d_from, d_to = parse_day(date_from, today - dt.timedelta(days=30)), parse_day(date_to, today)
        try:
            found = export.suspect_decisions(s, d_from, d_to, station or None)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        preview = [{"station": person.load_json(st.normalized).get("station"), "record_id": d.station_record_id,
                    "report_id": d.report_id, "reviewer": d.reviewer, "at": local_time(d.decided_at)} for d, st, _ in found[:200]]
        queue.ensure_fresh(s)
        return render(request, "export.html", user, date_from=d_from.isoformat(), date_to=d_to.isoformat(), station=station,
                      stations=queue.stations(s), preview=preview, total=len(found))

    @app.post("/export/download")
    def export_download(s: DB, user: User, date_from: Annotated[str, Form(max_length=20)] = "",
                        date_to: Annotated[str, Form(max_length=20)] = "", station: Annotated[str, Form(max_length=200)] = "",
                        fmt: Annotated[str, Form(max_length=10)] = "xlsx", csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
        check_csrf(user, csrf_token)
        need(user, auth.CAN_EXPORT)
        if fmt not in ("xlsx", "csv"):
            raise HTTPException(400, "格式应为 xlsx 或 csv")
        today = dt.datetime.now(export.CST).date()
        try:
            result = export.build(s, parse_day(date_from, today - dt.timedelta(days=30)), parse_day(date_to, today),
                                  station or None, with_phone=user.sees_phone)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        body = export.to_xlsx(result) if fmt == "xlsx" else export.to_csv(result)
        name = export.file_name(result, fmt)
        audit_log.add(s, user.username, "export", entity="export", entity_id=name, detail={
            "format": fmt, "count": len(result.pairs), "filter": result.filter_text, "with_phone": user.sees_phone,
            "pairs": [f"{a}|{b}" for a, b in result.pairs]})
        s.commit()
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if fmt == "xlsx" else "text/csv; charset=utf-8"
        return Response(body, media_type=media, headers={
            "Content-Disposition": f"attachment; filename=\"export.{fmt}\"; filename*=UTF-8''{quote(name)}"})

    # ------------------------------------------------------------------ audit

    @app.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request, s: DB, user: User, action: str = "", actor: str = "", before: int = 0) -> Response:
        need(user, auth.CAN_AUDIT)
        stmt = sa.select(AuditLog)
        if action:
            stmt = stmt.where(AuditLog.action == action[:60])
        if actor:
            stmt = stmt.where(AuditLog.actor == actor[:100])
        if before > 0:
            stmt = stmt.where(AuditLog.id < before)
        rows = s.scalars(stmt.order_by(AuditLog.id.desc()).limit(AUDIT_PAGE + 1)).all()
        more = len(rows) > AUDIT_PAGE
        rows = rows[:AUDIT_PAGE]
        actions = list(s.scalars(sa.select(AuditLog.action).distinct().order_by(AuditLog.action)))
        view = [{"id": r.id, "at": local_time(r.at), "actor": r.actor, "action": r.action, "entity": r.entity or "",
                 "entity_id": r.entity_id or "", "detail": _detail_text(r.detail)} for r in rows]
        qs = "&".join(f"{k}={quote(v)}" for k, v in (("action", action), ("actor", actor)) if v)
        return render(request, "audit.html", user, rows=view, actions=actions, action=action, actor=actor,
                      next_before=rows[-1].id if more and rows else None, filter_qs=qs)

    # The day's pages, each module registering its own routes (see xunqin.web.pages).
    from . import dashboard, family, search, stations, upload

    for module in (queue, person, search, family, upload, dashboard, stations):
        module.register(app)
    return app


def _detail_text(detail: Any, limit: int = 300) -> str:
    if not detail:
        return ""
    if isinstance(detail, dict):
        parts = []
        for k, v in detail.items():
            if isinstance(v, list):
                v = f"{len(v)} 项：" + "，".join(map(str, v[:5])) + ("…" if len(v) > 5 else "")
            parts.append(f"{k}={v}")
        text = "；".join(parts)
    else:
        text = str(detail)
    return text if len(text) <= limit else text[:limit] + "…"
