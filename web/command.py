"""``xunqin web`` (serve the review app) and ``xunqin user add|list|passwd|disable`` (accounts)."""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import os
import sys

PASSWORD_ENV = "XUNQIN_NEW_PASSWORD"  # for scripted setup; otherwise asked without echo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``xunqin web``."""
    parser.add_argument("--db", dest="db_url", help="database URL (default $XUNQIN_DB_URL or sqlite:///xunqin.db)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--secure-cookies", action="store_true",
                        help="served over HTTPS (behind a TLS proxy): cookies marked Secure, pages send HSTS; "
                             "without it a login over plain HTTP sends the session cookie in clear")
    parser.add_argument("--forwarded-allow-ips", type=forwarded_allow_ips, default=(), metavar="IPS",
                        help="comma-separated addresses or networks of the reverse proxy in front "
                             "(e.g. 127.0.0.1,10.0.0.5): only from these is X-Forwarded-For believed as "
                             "the client address (throttle, audit); default: none, the connecting address counts")


def forwarded_allow_ips(text: str) -> tuple[str, ...]:
    """Parse ``--forwarded-allow-ips``: IP addresses or networks, comma-separated; ``*`` (trust
    every client to name its own address) is refused: that is what a forged header exploits."""
    out = []
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        if item == "*":
            raise argparse.ArgumentTypeError("'*' would let any client choose its address; name the proxy's address")
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)) if "/" in item else str(ipaddress.ip_address(item)))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an IP address or network: {item!r}") from None
    return tuple(out)


def server_config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The uvicorn configuration ``xunqin web`` serves with."""
    import uvicorn

    from .app import create_app

    app = create_app(getattr(args, "db_url", None), secure_cookies=bool(getattr(args, "secure_cookies", False)),
                     forwarded_allow_ips=tuple(getattr(args, "forwarded_allow_ips", ()) or ()))
    # access_log off: request lines carry record ids in paths; keep the console to start/stop.
    # proxy_headers off: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 (or
    # $FORWARDED_ALLOW_IPS); the app does it itself, from --forwarded-allow-ips only.
    # server_header off: no "server: uvicorn" telling a scanner what runs here.
    return uvicorn.Config(app, host=args.host, port=args.port, access_log=False, log_level="info",
                          proxy_headers=False, server_header=False)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.Server(server_config(args)).run()
    return 0


def add_user_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``xunqin user`` (sub-commands add, list, passwd, disable)."""
    parser.add_argument("--db", dest="db_url", help="database URL (default $XUNQIN_DB_URL or sqlite:///xunqin.db)")
    sub = parser.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=("staff", "reviewer", "police", "admin"),
                     help="staff=救助站工作人员 reviewer=省级审核员 police=公安联络员 admin=管理员")
    add.add_argument("--station", help="the station of a staff account, e.g. 长春市救助管理站")
    add.add_argument("--db", dest="db_url", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub.add_parser("list", help="list accounts").add_argument("--db", dest="db_url", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    pw = sub.add_parser("passwd", help="set a new password (ends the user's sessions)")
    pw.add_argument("username")
    pw.add_argument("--db", dest="db_url", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    dis = sub.add_parser("disable", help="disable an account")
    dis.add_argument("username")
    dis.add_argument("--db", dest="db_url", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _password() -> str:
    env = os.environ.get(PASSWORD_ENV)
    if env:
        return env
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("密码: ")
    if getpass.getpass("再次输入密码: ") != first:
        raise ValueError("两次输入的密码不一致")
    return first


def run_user(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from xunqin.store import db, audit_log

    from . import auth
    from .models import User, WebSession

    url = db.database_url(getattr(args, "db_url", None))
    db.upgrade(url)
    try:
        with db.sessions(url)() as s:
            if args.user_command == "list":
                for u in s.scalars(sa.select(User).order_by(User.username)):
                    print(f"{u.username}\t{u.role}\t{u.station or '-'}\t{'启用' if u.is_active else '停用'}")
                return 0
            if args.user_command == "add":
                uid = auth.add_user(s, args.username, _password(), args.role, args.station)
                audit_log.add(s, "admin-cli", "user_added", entity="user", entity_id=str(uid), detail={"role": args.role})
                msg = f"已创建用户 {args.username}（{auth.ROLE_LABELS[args.role]}）"
            elif args.user_command == "passwd":
                auth.set_password(s, args.username, _password())
                audit_log.add(s, "admin-cli", "password_set", entity="user", entity_id=args.username)
                msg = f"已更新 {args.username} 的密码"
            else:
                user = s.scalars(sa.select(User).where(User.username == args.username)).first()
                if user is None:
                    raise ValueError("用户不存在")
                user.is_active = False
                s.execute(sa.delete(WebSession).where(WebSession.user_id == user.id))
                audit_log.add(s, "admin-cli", "user_disabled", entity="user", entity_id=str(user.id))
                msg = f"已停用 {args.username}"
            s.commit()
    except ValueError as exc:
        print(f"xunqin user: {exc}", file=sys.stderr)
        return 2
    print(msg)
    return 0
