"""Accounts, password hashing (argon2id), server-side sessions, CSRF tokens, login throttling.

Nothing here logs: a failed login is an audit row with the username typed, never the password.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from sqlalchemy.orm import Session

from xunqin.store.models import utcnow

from .models import ROLES, LoginAttempt, User, WebSession

SESSION_HOURS = 10  # one working day; then log in again
IDLE_MINUTES = 60  # an office PC left unlocked
TOUCH_SECONDS = 60  # write last_seen at most once a minute (one UPDATE per request is waste)
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
ROLE_LABELS = {"staff": "救助站工作人员", "reviewer": "省级审核员", "police": "公安联络员", "admin": "管理员"}
# Who may do what: one table, checked by the routes.
CAN_REVIEW = frozenset({"staff", "reviewer", "admin"})  # queue, person page, decisions
CAN_EXPORT = frozenset({"police", "reviewer", "admin"})
CAN_AUDIT = frozenset({"reviewer", "admin"})
# Family phone numbers: only the police liaison, who calls families to verify.
CAN_SEE_PHONE = frozenset({"police"})


@dataclass(frozen=True)
class CurrentUser:
    """The logged-in user as the routes see it."""

    id: int
    username: str
    role: str
    station: str | None
    csrf_token: str
    session_id: int

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    def sees_station(self, station: str | None) -> bool:
        """Station staff see their own station only; every other role sees all."""
        return self.role != "staff" or (station is not None and station == self.station)

    @property
    def sees_phone(self) -> bool:
        return self.role in CAN_SEE_PHONE


@cache
def _hasher():  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's current defaults


def hash_password(password: str) -> str:
    if not password or len(password) < 8:
        raise ValueError("密码至少 8 位")
    if len(password) > 1024:
        raise ValueError("密码过长")
    return _hasher().hash(password)


def verify_password(stored: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


# A hash to verify against when the user does not exist: the answer takes as long either way.
@cache
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def add_user(session: Session, username: str, password: str, role: str, station: str | None = None) -> int:
    """Create an account; station staff must name their station."""
    username = (username or "").strip()
    if not username or len(username) > 100:
        raise ValueError("用户名为空或过长")
    if role not in ROLES:
        raise ValueError(f"角色应为 {'/'.join(ROLES)}")
    station = (station or "").strip() or None
    if role == "staff" and station is None:
        raise ValueError("救助站工作人员须指定 --station")
    if role != "staff" and station is not None:
        raise ValueError("只有救助站工作人员属于某个救助站")
    if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise ValueError("用户名已存在")
    user = User(username=username, password_hash=hash_password(password), role=role, station=station,
                is_active=True, created_at=utcnow())
    session.add(user)
    session.flush()
    return user.id


def set_password(session: Session, username: str, password: str) -> None:
    user = session.scalars(sa.select(User).where(User.username == username)).first()
    if user is None:
        raise ValueError("用户不存在")
    user.password_hash = hash_password(password)
    session.execute(sa.delete(WebSession).where(WebSession.user_id == user.id))  # log out everywhere


def recent_failures(session: Session, username: str, ip: str, now: dt.datetime | None = None) -> int:
    """Failed logins of this username from this address within the window, since the last success."""
    now = now or utcnow()
    since = now - FAILURE_WINDOW
    last_ok = session.scalar(sa.select(sa.func.max(LoginAttempt.at)).where(
        LoginAttempt.username == username, LoginAttempt.ip == ip, LoginAttempt.success, LoginAttempt.at >= since))
    if last_ok is not None:
        since = max(since, _aware(last_ok))
    return int(session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == username, LoginAttempt.ip == ip, ~LoginAttempt.success, LoginAttempt.at > since)) or 0)


def throttled(session: Session, username: str, ip: str) -> bool:
    return recent_failures(session, username, ip) >= MAX_FAILURES


def check_login(session: Session, username: str, password: str, ip: str) -> User | None:
    """The user when the password fits (and the account is active), else None; records the try."""
    username = (username or "").strip()[:100]
    user = session.scalars(sa.select(User).where(User.username == username)).first() if username else None
    ok = verify_password(user.password_hash if user else _dummy_hash(), password or "")
    ok = ok and user is not None and user.is_active
    session.add(LoginAttempt(username=username, ip=ip[:64], at=utcnow(), success=bool(ok)))
    # Old attempts are of no use to the throttle; keep the table small.
    session.execute(sa.delete(LoginAttempt).where(LoginAttempt.at < utcnow() - dt.timedelta(days=30)))
    return user if ok else None


def new_session(session: Session, user: User) -> str:
    """Open a session for ``user``; returns the cookie token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(WebSession(token_hash=token_hash(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                           created_at=now, last_seen=now, expires_at=now + dt.timedelta(hours=SESSION_HOURS)))
    session.execute(sa.delete(WebSession).where(WebSession.expires_at < now))
    return token


def _aware(t: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes (stored as UTC).
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def load_session(session: Session, token: str | None) -> CurrentUser | None:
    """The user behind a cookie token, None when absent, unknown, expired or idle too long."""
    if not token or len(token) > 200:
        return None
    row = session.execute(
        sa.select(WebSession, User).join(User, User.id == WebSession.user_id).where(WebSession.token_hash == token_hash(token))
    ).first()
    if row is None:
        return None
    ws, user = row
    now = utcnow()
    if not user.is_active or _aware(ws.expires_at) <= now or _aware(ws.last_seen) + dt.timedelta(minutes=IDLE_MINUTES) <= now:
        session.delete(ws)
        return None
    if (now - _aware(ws.last_seen)).total_seconds() > TOUCH_SECONDS:
        ws.last_seen = now
    return CurrentUser(user.id, user.username, user.role, user.station, ws.csrf_token, ws.id)


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(sa.delete(WebSession).where(WebSession.token_hash == token_hash(token)))
