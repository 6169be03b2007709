"""``xunqin web`` (serve the review app), ``xunqin user add|list|passwd|disable`` (accounts),
``xunqin station add|list|seed`` (the stations list) and ``xunqin search-index`` (the search keys)."""

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
                if args.role == "staff" and (args.station or "").strip():
                    from xunqin.store import stations

                    stations.require_known(s, args.station)  # a typo would give an empty queue
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


def add_station_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``xunqin station`` (sub-commands add, list, seed)."""
    parser.add_argument("--db", dest="db_url", help="database URL (default $XUNQIN_DB_URL or sqlite:///xunqin.db)")
    sub = parser.add_subparsers(dest="station_command", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="put a station on the list")
    add.add_argument("name", help="e.g. 长春市救助管理站")
    add.add_argument("--code", help="station code (default: the division code of the place in its name)")
    add.add_argument("--prefecture", help="its prefecture (default: from the place in its name)")
    sub.add_parser("list", help="list the stations")
    sub.add_parser("seed", help="put every station named in the station records on the list")
    for action in sub.choices.values():
        action.add_argument("--db", dest="db_url", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def run_station(args: argparse.Namespace) -> int:
    from xunqin.store import db, stations

    url = db.database_url(getattr(args, "db_url", None))
    db.upgrade(url)
    try:
        with db.sessions(url).begin() as s:
            if args.station_command == "list":
                rows = stations.list_stations(s)
                for st in rows:
                    print(f"{st.code}\t{st.name}\t{st.prefecture}\t{'使用中' if st.is_active else '已停用'}")
                if not rows:
                    print("救助站名单是空的：用 xunqin station add 或 xunqin station seed 登记")
                return 0
            if args.station_command == "add":
                st = stations.add_station(s, args.name, args.code, args.prefecture, actor="admin-cli")
                print(f"已登记 {st.name}（代码 {st.code}，{st.prefecture}）")
                return 0
            added, unplaced = stations.seed_from_records(s, actor="admin-cli")
            print(f"从救助记录登记了 {len(added)} 个救助站" + (f"，共 {len(stations.list_stations(s))} 个" if added else "（名单已齐）"))
            for name in unplaced:
                print(f"未登记（看不出所在地，请用 xunqin station add 加 --code 和 --prefecture）：{name}", file=sys.stderr)
            return 0
    except ValueError as exc:
        print(f"xunqin station: {exc}", file=sys.stderr)
        return 2


def add_search_index_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", dest="db_url", help="database URL (default $XUNQIN_DB_URL or sqlite:///xunqin.db)")
    parser.add_argument("--rebuild", action="store_true", help="index every current record afresh")


def run_search_index(args: argparse.Namespace) -> int:
    import time

    from xunqin.store import db, search

    url = db.database_url(getattr(args, "db_url", None))
    db.upgrade(url)
    started = time.perf_counter()
    with db.sessions(url).begin() as s:
        done = search.rebuild(s) if args.rebuild else search.catch_up(s)
    db.checkpoint(url)
    print(f"搜索索引：救助站记录 {done['stations']} 条、寻人启事 {done['reports']} 条已建索引（{time.perf_counter() - started:.1f} 秒）")
    return 0
