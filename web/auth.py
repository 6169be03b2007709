"""Accounts, password hashing (argon2id), server-side sessions, CSRF tokens, login throttling.

Nothing here logs. A login attempt is stored with a digest of the name typed (never the text,
never a password); the audit log records whether the name is an account, not what was typed.

Sessions: the cookie is a browser-session cookie (no Max-Age, gone when the browser closes);
the server ends a session after IDLE_MINUTES without a request and SESSION_HOURS after login
whatever happens, and keeps at most MAX_SESSIONS per account (a new login ends the oldest).

Login throttling (sliding windows over stored failures; a try the throttle refuses is not a
failure, so refusals never prolong a lock, and every lock lifts by itself):

- one account from one address: PAIR_LIMIT (5) failures within FAILURE_WINDOW (15 minutes)
  refuse that account from that address until the oldest of them is 15 minutes old (a success
  there starts the count afresh);
- one address, any accounts: ADDRESS_LIMIT (20) failures within 15 minutes refuse every login
  from it (one password tried against many usernames);
- one account, any addresses: ACCOUNT_LIMIT (10) failures within 15 minutes, or
  ACCOUNT_DAY_LIMIT (30) within 24 hours (the slower back-off against a slow attack from many
  addresses), refuse that account from every address it has not logged in from within
  USUAL_DAYS (30 days).

From a usual address (one with a successful login of the account within 30 days) only the
pair limit applies: whoever fails from other addresses, or sprays from the user's own office
address, cannot keep the user out at their own desk; an attacker there meets the pair limit.
A user at a new address while their account is attacked waits out the window (at most 24 hours;
``xunqin user passwd`` does not shorten it).
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

from xunqin.store import workstation
from xunqin.store.models import utcnow

from .models import ROLES, LoginAttempt, User, WebSession

SESSION_HOURS = 10  # one working day; then log in again
IDLE_MINUTES = 60  # an office PC left unlocked
TOUCH_SECONDS = 60  # write last_seen at most once a minute (one UPDATE per request is waste)
MAX_SESSIONS = 3  # per account: an office PC, a laptop, one more; a fourth login ends the oldest
FAILURE_WINDOW = dt.timedelta(minutes=15)
PAIR_LIMIT = 5
ADDRESS_LIMIT = 20
ACCOUNT_LIMIT = 10
ACCOUNT_DAY_WINDOW = dt.timedelta(hours=24)
ACCOUNT_DAY_LIMIT = 30
USUAL_DAYS = 30
KEEP_ATTEMPTS = dt.timedelta(days=USUAL_DAYS)
MAX_FAILURES = PAIR_LIMIT  # the login page's "5 次"
ROLE_LABELS = {"staff": "救助站工作人员", "reviewer": "省级审核员", "police": "公安联络员", "admin": "管理员"}
# Who may do what: one table, checked by the routes.
CAN_REVIEW = frozenset({"staff", "reviewer", "admin"})  # queue, person page, decisions
CAN_EXPORT = frozenset({"police", "reviewer", "admin"})
# The audit log names who looked at whom: the administrator's, not the reviewers' to read.
CAN_AUDIT = frozenset({"admin"})
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


def name_key(session: Session, username: str) -> str:
    """What a login attempt stores for the name typed: an HMAC keyed by the database's instance
    id, so the throttle can count per name and the table never holds the text itself."""
    key = workstation.instance_id(session).encode("ascii")
    return hmac.new(key, (username or "").encode("utf-8", "replace"), hashlib.sha256).hexdigest()


def _count(session: Session, *where: sa.ColumnElement[bool]) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt).where(*where)) or 0)


def throttle_rule(session: Session, username: str, ip: str, now: dt.datetime | None = None) -> str | None:
    """The rule that refuses this login now ("pair", "address" or "account"), None when it may
    be tried (see the module docstring for the numbers)."""
    now = now or utcnow()
    key = name_key(session, username)
    since = now - FAILURE_WINDOW
    failed = ~LoginAttempt.success
    last_ok = session.scalar(sa.select(sa.func.max(LoginAttempt.at)).where(
        LoginAttempt.username == key, LoginAttempt.ip == ip, LoginAttempt.success))
    if last_ok is not None and _aware(last_ok) > since:
        pair_since = _aware(last_ok)
    else:
        pair_since = since
    if _count(session, LoginAttempt.username == key, LoginAttempt.ip == ip, failed, LoginAttempt.at > pair_since) >= PAIR_LIMIT:
        return "pair"
    usual = last_ok is not None and _aware(last_ok) > now - dt.timedelta(days=USUAL_DAYS)
    if usual:
        return None
    if _count(session, LoginAttempt.ip == ip, failed, LoginAttempt.at > since) >= ADDRESS_LIMIT:
        return "address"
    if (_count(session, LoginAttempt.username == key, failed, LoginAttempt.at > since) >= ACCOUNT_LIMIT
            or _count(session, LoginAttempt.username == key, failed, LoginAttempt.at > now - ACCOUNT_DAY_WINDOW) >= ACCOUNT_DAY_LIMIT):
        return "account"
    return None


def find_user(session: Session, username: str) -> User | None:
    username = (username or "").strip()[:100]
    return session.scalars(sa.select(User).where(User.username == username)).first() if username else None


def check_login(session: Session, username: str, password: str, ip: str) -> User | None:
    """The user when the password fits (and the account is active), else None; records the try."""
    username = (username or "").strip()[:100]
    user = find_user(session, username)
    ok = verify_password(user.password_hash if user else _dummy_hash(), password or "")
    ok = ok and user is not None and user.is_active
    now = utcnow()
    session.add(LoginAttempt(username=name_key(session, username), ip=ip[:64], at=now, success=bool(ok)))
    # Older attempts are of no use to the throttle; keep the table small.
    session.execute(sa.delete(LoginAttempt).where(LoginAttempt.at < now - KEEP_ATTEMPTS))
    return user if ok else None


def new_session(session: Session, user: User) -> tuple[str, int]:
    """Open a session for ``user``: (the cookie token, only its hash is stored; how many older
    sessions of the account were ended to keep it at MAX_SESSIONS)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.execute(sa.delete(WebSession).where(WebSession.expires_at < now))
    keep = session.scalars(sa.select(WebSession.id).where(WebSession.user_id == user.id)
                           .order_by(WebSession.created_at.desc(), WebSession.id.desc()).limit(MAX_SESSIONS - 1)).all()
    ended = session.execute(sa.delete(WebSession).where(WebSession.user_id == user.id, WebSession.id.not_in(keep))).rowcount
    session.add(WebSession(token_hash=token_hash(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                           created_at=now, last_seen=now, expires_at=now + dt.timedelta(hours=SESSION_HOURS)))
    return token, int(ended or 0)


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
