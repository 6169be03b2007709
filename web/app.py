"""The review workstation: FastAPI app, server-rendered Chinese pages.

Every route needs a session except the login form. A wrong role is a 403; a record of another
station is a 404 like a record that is not there (one answer: staff cannot learn which record
numbers exist elsewhere); both denials are audited, as are CSRF failures and throttled logins.
Forms carry a per-session CSRF token. Page responses are never cached (they hold personal
data). Every error is a Chinese HTML page without a traceback or a value from the request.

The client address (throttle, audit) is the socket peer; a proxy's ``X-Forwarded-For`` is
believed only from the addresses given as ``forwarded_allow_ips`` (uvicorn's
ProxyHeadersMiddleware, the rightmost address not a trusted proxy). Anything else a client
sends about its address is ignored.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import secrets
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from xunqin.store import audit_log, db
from xunqin.store.audit_log import ANONYMOUS
from xunqin.store.models import AuditLog

from . import auth, export, params, person, queue
from .labels import DECISION_HELP, local_time

COOKIE = "xq_session"
LOGIN_CSRF_COOKIE = "xq_login_csrf"
STATIC = ("app.css",)
AUDIT_PAGE = 100
HSTS_SECONDS = 365 * 24 * 3600
# Inline style is used by the pages (the login page's sheet, the waterfall's bar positions);
# nothing else inline, no script anywhere, nothing from another origin.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
ERROR_TITLES = {400: "请求有误", 401: "需要登录", 403: "无权访问", 404: "未找到", 405: "不支持的操作",
                429: "尝试次数过多", 500: "系统出错"}
# For errors raised by the framework itself (an unknown address, a wrong method): its English
# phrase is never shown.
ERROR_MESSAGES = {404: "您要找的页面或记录不存在。", 405: "此页面不支持这种操作。", 500: "系统出错，请稍后再试；如一再出现，请联系管理员。"}
log = logging.getLogger("xunqin.web")


class LoginRequired(Exception):
    """Raised by the auth dependency; answered with a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__("login required")
        self.next_path = next_path


def _templates() -> Jinja2Templates:
    t = Jinja2Templates(directory=str(files("xunqin.web") / "templates"))
    t.env.globals.update(role_labels=auth.ROLE_LABELS, decision_help=DECISION_HELP, can_review=auth.CAN_REVIEW,
                         can_export=auth.CAN_EXPORT, can_audit=auth.CAN_AUDIT)
    return t


def _safe_next(path: str | None) -> str:
    """Only local paths after login (no open redirect to another site)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path or len(path) > 500:
        return "/"
    return path


def client_ip(request: Request) -> str:
    """The client's address as ProxyHeadersMiddleware left it (a trusted proxy's word, else the
    socket peer), normalized; ``unknown`` for anything that is not an IP address."""
    host = request.client.host if request.client else ""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return "unknown"


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


def _route_path(request: Request) -> str:
    """The route's template (``/person/{record_id}``): names the page, holds no value."""
    route = request.scope.get("route")
    return getattr(route, "path", None) or request.url.path[:200]


def _error_frames(exc: BaseException) -> str:
    """Where an error happened (file, line, function, source line), without its message: a
    database error's message may quote the values it was writing."""
    return "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))


def create_app(url: str | None = None, *, secure_cookies: bool = False, forwarded_allow_ips: Sequence[str] = (),
               migrate: bool = True) -> FastAPI:
    """The app over the database at ``url`` (schema brought to head unless ``migrate`` is False).

    ``secure_cookies``: the app is served over HTTPS (behind a TLS proxy): cookies are marked
    Secure and pages carry HSTS. ``forwarded_allow_ips``: addresses (or networks) of the proxy
    whose ``X-Forwarded-For`` names the client; empty (the default) trusts no header.
    """
    url = db.database_url(url)
    if migrate:
        db.upgrade(url)
    app = FastAPI(title="寻亲工作站", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sessions = db.sessions(url)
    templates = _templates()
    css = _css()
    app.state.templates, app.state.css, app.state.url = templates, css, url

    def render(request: Request, name: str, user: auth.CurrentUser | None, code: int = 200, **ctx: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"user": user, "css": css, **ctx}, status_code=code)

    def deny(s: Session, request: Request, user: auth.CurrentUser | None, status: int, message: str, reason: str,
             entity: str | None = None, entity_id: str | None = None) -> HTTPException:
        """Audit a refused access (who, from where, which page and record, why), then the error to raise."""
        audit_log.add(s, user.username if user else ANONYMOUS, "access_denied", entity=entity, entity_id=entity_id,
                      detail={"reason": reason, "page": _route_path(request), "method": request.method},
                      ip=client_ip(request))
        s.commit()
        return HTTPException(status, message)

    def need(s: Session, request: Request, user: auth.CurrentUser, roles: frozenset[str]) -> None:
        if user.role not in roles:
            raise deny(s, request, user, 403, "您的角色无权访问此页面", "role")

    def check_csrf(s: Session, request: Request, user: auth.CurrentUser, token: str | None) -> None:
        if not auth.csrf_ok(user.csrf_token, token):
            audit_log.add(s, user.username, "csrf_failed", detail={"page": _route_path(request)}, ip=client_ip(request))
            s.commit()
            raise HTTPException(403, "表单已过期或来源不明，请刷新页面后重试")

    def viewer(request: Request) -> auth.CurrentUser | None:
        """The logged-in user for an error page's navigation (read only; None when unsure)."""
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        try:
            with app.state.sessions() as s:
                return auth.load_session(s, token)  # never committed: an error page changes nothing
        except Exception:  # noqa: BLE001 - the error page must not fail on its navigation
            return None

    def error_page(request: Request, code: int, message: str, user: auth.CurrentUser | None,
                   headers: dict[str, str] | None = None) -> Response:
        response = render(request, "error.html", user, code=code, title=ERROR_TITLES.get(code, "出错了"), message=message,
                          status=code)
        if headers:
            response.headers.update(headers)
        return response

    # the page modules' routes refuse and audit the same way (xunqin.web.pages)
    app.state.guard = Guard(need=need, check_csrf=check_csrf, deny=deny)

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/login?next=" + quote(_safe_next(exc.next_path), safe=""), status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Ours carry a Chinese message; the framework's (unknown address, wrong method) an English phrase.
        message = str(exc.detail) if isinstance(exc, HTTPException) else ERROR_MESSAGES.get(exc.status_code, "请求无法处理。")
        return error_page(request, exc.status_code, message, await run_in_threadpool(viewer, request), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        where = errors[0].get("loc", ()) if errors else ()
        param = next((str(p) for p in reversed(where) if isinstance(p, str)), "")
        message = f"参数“{params.name(param)}”不正确或超出范围" if param else "参数不正确或超出范围"
        return error_page(request, 400, message, await run_in_threadpool(viewer, request))

    @app.middleware("http")
    async def _guard(request: Request, call_next):  # type: ignore[no-untyped-def]
        try:
            response = await call_next(request)
        except Exception as exc:  # noqa: BLE001 - every error is a Chinese page, never a reset connection
            ref = secrets.token_hex(4)
            log.error("xunqin web: internal error %s on %s %s (reference %s)\n%s", type(exc).__name__, request.method,
                      _route_path(request), ref, _error_frames(exc))
            response = error_page(request, 500, f"{ERROR_MESSAGES[500]}（错误编号 {ref}）", None)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if secure_cookies:
            response.headers["Strict-Transport-Security"] = f"max-age={HSTS_SECONDS}"
        return response

    # Outermost: the client address is settled before anything reads it.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(forwarded_allow_ips))

    def set_cookie(response: Response, key: str, value: str) -> None:
        # No Max-Age/Expires: a browser-session cookie, gone when the browser closes; the
        # server's own expiry (auth.SESSION_HOURS, auth.IDLE_MINUTES) holds either way.
        response.set_cookie(key, value, httponly=True, samesite="strict" if key == LOGIN_CSRF_COOKIE else "lax",
                            secure=secure_cookies, path="/")

    # ------------------------------------------------------------------ login / logout

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: Annotated[str, Query(max_length=2000)] = "/") -> Response:
        token = secrets.token_urlsafe(24)
        response = render(request, "login.html", None, next=_safe_next(next), login_csrf=token, error=None)
        set_cookie(response, LOGIN_CSRF_COOKIE, token)
        return response

    @app.post("/login")
    def login(request: Request, s: DB, username: Annotated[str, Form(max_length=200)] = "",
              password: Annotated[str, Form(max_length=1024)] = "", csrf_token: Annotated[str, Form(max_length=200)] = "",
              next: Annotated[str, Form(max_length=500)] = "/") -> Response:
        def again(message: str, status: int) -> Response:
            token = secrets.token_urlsafe(24)
            response = render(request, "login.html", None, code=status, next=_safe_next(next), login_csrf=token,
                              error=message, username=username[:100])
            set_cookie(response, LOGIN_CSRF_COOKIE, token)
            return response

        ip = client_ip(request)
        if not auth.csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
            audit_log.add(s, ANONYMOUS, "csrf_failed", detail={"page": "/login"}, ip=ip)
            s.commit()
            return again("页面已过期，请重新登录", 403)
        name = username.strip()[:100]
        # The audit names an account only when the name is one: a password typed into the
        # username box is never stored or shown.
        known = auth.find_user(s, name)
        actor, who = (known.username, {"entity": "user", "entity_id": str(known.id)}) if known else (ANONYMOUS, {})
        rule = auth.throttle_rule(s, name, ip)
        if rule is not None:
            audit_log.add(s, actor, "login_throttled", detail={"known_user": known is not None, "rule": rule}, ip=ip, **who)
            s.commit()
            return again(f"登录失败次数过多，请 {int(auth.FAILURE_WINDOW.total_seconds() // 60)} 分钟后再试；"
                         "如一直无法登录，请在常用的电脑上登录或联系管理员", 429)
        user = auth.check_login(s, name, password, ip)
        if user is None:
            audit_log.add(s, actor, "login_failed", detail={"known_user": known is not None}, ip=ip, **who)
            s.commit()
            return again("用户名或密码错误", 401)
        token, ended = auth.new_session(s, user)
        audit_log.add(s, user.username, "login", entity="user", entity_id=str(user.id),
                      detail={"sessions_ended": ended} if ended else None, ip=ip)
        s.commit()
        home = "/export" if user.role == "police" else "/queue"
        target = _safe_next(next)
        response = RedirectResponse(home if target == "/" else target, status_code=303)
        set_cookie(response, COOKIE, token)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return response

    @app.post("/logout")
    def logout(request: Request, s: DB, user: User, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
        check_csrf(s, request, user, csrf_token)
        auth.end_session(s, request.cookies.get(COOKIE))
        audit_log.add(s, user.username, "logout", entity="user", entity_id=str(user.id), ip=client_ip(request))
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

    def days(date_from: str, date_to: str) -> tuple[dt.date, dt.date]:
        today = dt.datetime.now(export.CST).date()
        return (params.day(date_from, today - dt.timedelta(days=30), "date_from"), params.day(date_to, today, "date_to"))

    @app.get("/export", response_class=HTMLResponse)
    def export_page(request: Request, s: DB, user: User, date_from: Annotated[str, Query(max_length=20)] = "",
                    date_to: Annotated[str, Query(max_length=20)] = "", station: Annotated[str, Query(max_length=200)] = "") -> Response:
        need(s, request, user, auth.CAN_EXPORT)
        d_from, d_to = days(date_from, date_to)
        try:
            found = export.suspect_decisions(s, d_from, d_to, station or None)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        preview = [{"station": person.load_json(st.normalized).get("station"), "record_id": d.station_record_id,
                    "report_id": d.report_id, "reviewer": d.reviewer, "at": local_time(d.decided_at)} for d, st, _ in found[:200]]
        queue.ensure_fresh(s)
        content = export.content_for(user.role)
        audit_log.add(s, user.username, "export_view", entity="export", detail={
            "count": len(found), "shown": len(preview), "filter": export.filter_text(d_from, d_to, station or None)},
            ip=client_ip(request))
        s.commit()
        return render(request, "export.html", user, date_from=d_from.isoformat(), date_to=d_to.isoformat(), station=station,
                      stations=queue.stations(s), preview=preview, total=len(found), content=content)

    @app.post("/export/download")
    def export_download(request: Request, s: DB, user: User, date_from: Annotated[str, Form(max_length=20)] = "",
                        date_to: Annotated[str, Form(max_length=20)] = "", station: Annotated[str, Form(max_length=200)] = "",
                        fmt: Annotated[str, Form(max_length=10)] = "xlsx", csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
        check_csrf(s, request, user, csrf_token)
        need(s, request, user, auth.CAN_EXPORT)
        if fmt not in ("xlsx", "csv"):
            raise HTTPException(400, "格式应为 xlsx 或 csv")
        d_from, d_to = days(date_from, date_to)
        content = export.content_for(user.role)
        try:
            result = export.build(s, d_from, d_to, station or None, content)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        body = export.to_xlsx(result) if fmt == "xlsx" else export.to_csv(result)
        name = export.file_name(result, fmt)
        audit_log.add(s, user.username, "export", entity="export", entity_id=name, detail={
            "format": fmt, "count": len(result.pairs), "filter": result.filter_text, "content": content.code,
            "with_phone": content.with_phone, "pairs": [f"{a}|{b}" for a, b in result.pairs]}, ip=client_ip(request))
        s.commit()
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if fmt == "xlsx" else "text/csv; charset=utf-8"
        return Response(body, media_type=media, headers={
            "Content-Disposition": f"attachment; filename=\"export.{fmt}\"; filename*=UTF-8''{quote(name)}"})

    # ------------------------------------------------------------------ audit

    @app.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request, s: DB, user: User, action: Annotated[str, Query(max_length=60)] = "",
                   actor: Annotated[str, Query(max_length=100)] = "",
                   before: Annotated[int, Query(ge=0, le=params.MAX_ROW_ID)] = 0) -> Response:
        need(s, request, user, auth.CAN_AUDIT)
        stored = list(s.scalars(sa.select(AuditLog.action).distinct().order_by(AuditLog.action)))
        codes = list(audit_log.ACTION_NAMES) + [a for a in stored if a not in audit_log.ACTION_NAMES]
        action = params.choice(action, codes, "action")
        stmt = sa.select(AuditLog)
        if action:
            stmt = stmt.where(AuditLog.action == action)
        if actor:
            stmt = stmt.where(AuditLog.actor == actor)
        if before > 0:
            stmt = stmt.where(AuditLog.id < before)
        rows = s.scalars(stmt.order_by(AuditLog.id.desc()).limit(AUDIT_PAGE + 1)).all()
        more = len(rows) > AUDIT_PAGE
        rows = rows[:AUDIT_PAGE]
        audit_log.add(s, user.username, "audit_view", detail={k: v for k, v in (("action", action), ("actor", actor),
                                                                                 ("before", before)) if v} or None,
                      ip=client_ip(request))
        s.commit()
        view = [{"id": r.id, "at": local_time(r.at), "actor": r.actor, "action": audit_log.action_name(r.action),
                 "code": r.action, "ip": r.ip or "", "entity": r.entity or "", "entity_id": r.entity_id or "",
                 "detail": _detail_text(r.detail)} for r in rows]
        actions = [(c, audit_log.action_name(c)) for c in codes if c in stored]
        qs = "&".join(f"{k}={quote(v)}" for k, v in (("action", action), ("actor", actor)) if v)
        return render(request, "audit.html", user, rows=view, actions=actions, action=action, actor=actor,
                      next_before=rows[-1].id if more and rows else None, filter_qs=qs)

    # The day's pages, each module registering its own routes (see xunqin.web.pages).
    from . import dashboard, family, search, stations, upload

    for module in (queue, person, search, family, upload, dashboard, stations):
        module.register(app)
    return app


@dataclass(frozen=True)
class Guard:
    """The app's role check, CSRF check and audited denial, for the page modules."""

    need: Callable[..., None]
    check_csrf: Callable[..., None]
    deny: Callable[..., HTTPException]


# Names of the detail fields of audit entries, for the audit page.
DETAIL_NAMES = {
    "candidates": "候选数", "count": "条数", "shown": "显示", "filter": "筛选", "format": "格式", "content": "内容",
    "with_phone": "含家属电话", "pairs": "比对对", "decision": "标记", "decision_id": "标记编号", "known_user": "用户名存在",
    "rule": "限制规则", "reason": "原因", "page": "页面", "method": "方法", "sessions_ended": "结束旧会话", "role": "角色",
    "action": "操作", "actor": "用户", "before": "翻页位置", "result": "核查结果", "was_exported": "曾导出",
    "police_result_id": "结果编号",
}
DETAIL_VALUES = {True: "是", False: "否", "role": "角色无权", "other_station": "非本站记录", "pair": "同一账号同一地址",
                 "address": "同一地址", "account": "同一账号（新地址）", "police": "公安核查", "review": "省级跟踪"}


def _detail_text(detail: Any, limit: int = 300) -> str:
    if not detail:
        return ""
    if isinstance(detail, dict):
        parts = []
        for k, v in detail.items():
            if isinstance(v, list):
                v = f"{len(v)} 项：" + "，".join(map(str, v[:5])) + ("…" if len(v) > 5 else "")
            elif isinstance(v, (bool, str)):
                v = DETAIL_VALUES.get(v, v)
            parts.append(f"{DETAIL_NAMES.get(k, k)}={v}")
        text = "；".join(parts)
    else:
        text = str(detail)
    return text if len(text) <= limit else text[:limit] + "…"
