"""The stations list page (admins): the stations accounts and uploads refer to."""

from typing import Annotated

from xunqin.store import search, stations


def register(app) -> None:  # type: ignore[no-untyped-def]
    from fastapi import Form, HTTPException, Request
    from fastapi.responses import HTMLResponse, RedirectResponse, Response

    from .app import DB, User
    from . import params
    from .pages import CAN_MANAGE_STATIONS, check_csrf, ip, need, render

    def page(request: Request, s, user, code: int = 200, **ctx):  # type: ignore[no-untyped-def]
        held = search.counts_by_station(s)
        listed = stations.list_stations(s)
        unlisted = sorted(set(held) - {st.name for st in listed})
        return render(request, "stations.html", user, code=code, stations=listed, held=held, unlisted=unlisted,
                      **{"error": None, "message": request.query_params.get("done", "")[:200], **ctx})

    @app.get("/stations", response_class=HTMLResponse)
    def stations_page(request: Request, s: DB, user: User) -> Response:
        need(s, request, user, CAN_MANAGE_STATIONS)
        return page(request, s, user)

    @app.post("/stations/add", response_class=HTMLResponse)
    def station_add(request: Request, s: DB, user: User, name: Annotated[str, Form(max_length=200)] = "",
                    code: Annotated[str, Form(max_length=40)] = "", prefecture: Annotated[str, Form(max_length=100)] = "",
                    csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
        check_csrf(s, request, user, csrf_token)
        need(s, request, user, CAN_MANAGE_STATIONS)
        try:
            station = stations.add_station(s, name, code or None, prefecture or None, actor=user.username, ip=ip(request))
        except ValueError as exc:
            s.rollback()
            return page(request, s, user, code=400, error=str(exc))
        s.commit()
        return RedirectResponse(f"/stations?done=已登记 {station.name}（{station.code}）", status_code=303)

    @app.post("/stations/seed")
    def station_seed(request: Request, s: DB, user: User, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
        check_csrf(s, request, user, csrf_token)
        need(s, request, user, CAN_MANAGE_STATIONS)
        added, unplaced = stations.seed_from_records(s, actor=user.username, ip=ip(request))
        s.commit()
        text = f"从救助记录登记了 {len(added)} 个救助站" + (f"；{len(unplaced)} 个看不出所在地，请手工登记" if unplaced else "")
        return RedirectResponse(f"/stations?done={text}", status_code=303)

    @app.post("/stations/{station_id}")
    def station_change(request: Request, s: DB, user: User, station_id: str, prefecture: Annotated[str, Form(max_length=100)] = "",
                       active: Annotated[str, Form(max_length=5)] = "", csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
        check_csrf(s, request, user, csrf_token)
        need(s, request, user, CAN_MANAGE_STATIONS)
        active = params.choice(active, ("1", "0"), "active")
        if not station_id.isdigit() or len(station_id) > 12:
            raise HTTPException(404, "没有这个救助站")
        try:
            station = stations.update_station(s, int(station_id), prefecture=prefecture or None,
                                              is_active=None if active == "" else active == "1", actor=user.username,
                                              ip=ip(request))
        except ValueError as exc:
            raise HTTPException(404 if "没有" in str(exc) else 400, str(exc)) from None
        s.commit()
        return RedirectResponse(f"/stations?done=已更新 {station.name}", status_code=303)

