"""Uploads: station staff send their station's export, reviewers a list of reports; the police
liaison's verification results have their own handler (the police import, xunqin.flows.police).

A file goes the inbox's way (:mod:`xunqin.ingest` reads and normalizes it, the store takes its
rows as record versions, the search index follows in the same transaction) in a worker thread,
while the result page shows how far it got. The page then gives rows in / taken / refused and
every rejected value with its reason in Chinese; ID numbers in rejects are masked (first 6 and
last 4) by the ingest. An uploaded station export may name only stations on the list, and a
staff member's only their own station: other rows are refused and listed.
"""

import io
import logging
import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from xunqin.ingest.reasons import column_text, file_reason_text, reason_text
from xunqin.store import audit_log, db, records, search, stations
from xunqin.store.models import Reject, SourceFile, Upload, utcnow

MAX_BYTES = 200 * 1024 * 1024
CHUNK = 1 << 20
SUFFIXES = (".csv", ".xlsx", ".xlsm", ".txt")
UNKNOWN_STATION = "station not on the stations list: row refused"
OTHER_STATION = "station is not the uploader's station: row refused"
STAGES = {"waiting": ("排队等候", 0), "reading": ("正在读取文件", 1), "checking": ("正在逐行检查", 2),
          "saving": ("正在保存", 3), "done": ("完成", 4), "refused": ("文件未收", 4), "failed": ("出错", 4)}
FINISHED = ("done", "refused", "failed")
KIND_TEXT = {"stations": "救助站记录（站内导出）", "reports": "寻人启事名单"}
SHOWN_REJECTS = 2000


def kinds_for(role: str) -> tuple[str, ...]:
    """What a role may upload: staff their station's export, reviewers report lists, admins both."""
    return {"staff": ("stations",), "reviewer": ("reports",), "admin": ("stations", "reports")}.get(role, ())


def _set(url: str, upload_id: int, **values: Any) -> None:
    with db.sessions(url).begin() as s:
        s.execute(sa.update(Upload).where(Upload.id == upload_id).values(**values))


def refuse_rows_by_station(normalized: pd.DataFrame, rejects: pd.DataFrame, known: list[str], own: str | None,
                           file_name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows naming a station not on the list (or, for staff, not their own) leave the table and
    join the rejects as refused rows."""
    station = normalized["station"].astype("string").fillna("").str.strip()
    unknown = ~station.isin(known)
    other = ~unknown & (station != own) if own is not None else pd.Series(False, index=normalized.index)
    refused = unknown | other
    if not refused.any():
        return normalized, rejects
    extra = pd.DataFrame({
        "file": file_name, "row": normalized.loc[refused, "source_row"].astype(int).to_numpy(), "column": "station",
        "value": station[refused].to_numpy(dtype=object),
        "reason": [UNKNOWN_STATION if u else OTHER_STATION for u in unknown[refused].tolist()],
        "severity": "refused"})
    extra["reason_zh"] = extra["reason"].map(reason_text)
    merged = pd.concat([rejects, extra[rejects.columns]] if len(rejects) else [extra[rejects.columns]], ignore_index=True)
    return normalized.loc[~refused].reset_index(drop=True), merged.sort_values(["row"], kind="stable").reset_index(drop=True)


def process(url: str, upload_id: int, path: Path, kind: str, own_station: str | None, actor: str, ip: str | None = None) -> None:
    """Read, check and store one uploaded file, recording each stage on its upload row."""
    from xunqin.ingest import FileRefused
    from xunqin.ingest.read import read_table
    from xunqin.ingest.tables import normalize_reports, normalize_stations

    try:
        content_hash = records.file_hash(path)
        with db.sessions(url)() as s:
            seen = records.find_file(s, content_hash)
            if seen is not None and seen.status == "taken":
                _set(url, upload_id, status="done", source_file_id=seen.id, rows_in=seen.rows_in,
                     rows_taken=seen.rows_in - _count(s, seen.id, "refused"), rows_refused=_count(s, seen.id, "refused"),
                     values_rejected=_count(s, seen.id, "error"), warnings=_count(s, seen.id, "warning"),
                     message="这个文件以前已经收过（内容完全相同），没有重复保存；下面是当时的结果", finished_at=utcnow())
                return
            known = stations.known_names(s) if kind == "stations" else []
        _set(url, upload_id, status="reading")
        try:
            raw = read_table(path, kind)  # type: ignore[arg-type]
        except FileRefused as exc:
            where = f"“{column_text(exc.column)}”列：" if exc.column else ""
            _set(url, upload_id, status="refused", message=where + file_reason_text(exc.why), finished_at=utcnow())
            return
        _set(url, upload_id, status="checking", rows_in=len(raw.data))
        normalized, rejects = (normalize_stations if kind == "stations" else normalize_reports)(raw)
        if kind == "stations":
            normalized, rejects = refuse_rows_by_station(normalized, rejects, known, own_station, raw.file)
        _set(url, upload_id, status="saving")
        with db.sessions(url).begin() as s:
            outcome = records.add_records(s, kind=kind, file_name=raw.file, content_hash=content_hash, raw=raw.data,
                                          raw_rows=raw.source_row, normalized=normalized, rejects=rejects, run_id=None)
            search.catch_up(s, search.Stored(kind, normalized.iloc[list(outcome.stored_rows)]))
            sev = rejects["severity"] if len(rejects) else pd.Series([], dtype=object)
            s.execute(sa.update(Upload).where(Upload.id == upload_id).values(
                status="done", source_file_id=outcome.file_id, rows_in=len(raw.data), rows_taken=len(normalized),
                rows_refused=int((sev == "refused").sum()), values_rejected=int((sev == "error").sum()),
                warnings=int((sev == "warning").sum()), finished_at=utcnow()))
            audit_log.add(s, actor, "upload", entity="source_file", entity_id=str(outcome.file_id),
                          detail={"kind": kind, "rows": len(raw.data), "taken": len(normalized), "new": outcome.rows_new,
                                  "changed": outcome.rows_changed, "rejects": len(rejects)}, ip=ip)
    except Exception as exc:  # a bug or an odd file: the page says so, the server goes on
        # the type only: a message or traceback may quote the file's values
        logging.getLogger(__name__).error("upload %s failed: %s", upload_id, type(exc).__name__)
        _set(url, upload_id, status="failed", message=f"处理时出错（{type(exc).__name__}），请把文件交给技术人员", finished_at=utcnow())
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


def _count(s: Session, source_file_id: int, severity: str) -> int:
    return int(s.scalar(sa.select(sa.func.count()).select_from(Reject).where(
        Reject.source_file_id == source_file_id, Reject.severity == severity)) or 0)


@dataclass(frozen=True)
class RejectRow:
    row: int | None
    column: str
    value: str
    reason: str
    severity: str


SEVERITY_TEXT = {"refused": "整行未收", "error": "此项未收", "warning": "提醒"}


def reject_rows(s: Session, source_file_id: int, limit: int | None = SHOWN_REJECTS) -> list[RejectRow]:
    stmt = sa.select(Reject).where(Reject.source_file_id == source_file_id).order_by(Reject.row, Reject.id)
    if limit:
        stmt = stmt.limit(limit)
    return [RejectRow(r.row, column_text(r.column) if r.column else "", r.value or "", reason_text(r.reason),
                      SEVERITY_TEXT.get(r.severity, r.severity)) for r in s.scalars(stmt)]


def rejects_csv(rows: list[RejectRow]) -> bytes:
    """The rejects as a spreadsheet-safe CSV in Chinese (UTF-8 with BOM)."""
    from xunqin.ingest.spreadsheet import defuse_formula

    frame = pd.DataFrame([{"行": r.row, "列": r.column, "内容": defuse_formula(r.value), "原因": r.reason, "处理": r.severity} for r in rows],
                         columns=["行", "列", "内容", "原因", "处理"])
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\r\n")
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def register(app) -> None:  # type: ignore[no-untyped-def]
    from urllib.parse import quote

    from fastapi import HTTPException, Request, UploadFile
    from fastapi.responses import HTMLResponse, RedirectResponse, Response
    from starlette.concurrency import run_in_threadpool

    from . import auth
    from .app import DB, User
    from .pages import CAN_UPLOAD, check_csrf, ip, need, render

    async def saved_file(upload: UploadFile) -> tuple[Path, int, str]:
        """The upload written to a private temporary folder: (path, size, clean file name)."""
        name = Path((upload.filename or "").replace("\\", "/")).name[:200] or "上传文件.csv"
        if not name.lower().endswith(SUFFIXES):
            raise HTTPException(400, "只收 CSV 或 XLSX 文件（.csv / .xlsx）")
        folder = Path(tempfile.mkdtemp(prefix="xunqin-upload-"))
        path = folder / name
        size = 0
        with path.open("wb") as fh:
            while block := await upload.read(CHUNK):
                size += len(block)
                if size > MAX_BYTES:
                    fh.close()
                    shutil.rmtree(folder, ignore_errors=True)
                    raise HTTPException(413, f"文件太大（最多 {MAX_BYTES // (1024 * 1024)} MB），请分成几个文件上传")
                fh.write(block)
        if size == 0:
            shutil.rmtree(folder, ignore_errors=True)
            raise HTTPException(400, "文件是空的")
        return path, size, name

    @app.get("/upload", response_class=HTMLResponse)
    def upload_form(request: Request, s: DB, user: User) -> Response:
        need(s, request, user, CAN_UPLOAD)
        mine = s.scalars(sa.select(Upload).where(Upload.username == user.username).order_by(Upload.id.desc()).limit(20)).all()
        return render(request, "upload.html", user, kinds={k: KIND_TEXT[k] for k in kinds_for(user.role)}, uploads=mine,
                      stages=STAGES, known=stations.known_names(s) if "stations" in kinds_for(user.role) else [])

    @app.get("/upload/progress.js")
    def progress_script(user: User) -> Response:
        return Response(PROGRESS_JS, media_type="text/javascript", headers={"Cache-Control": "private, max-age=3600"})

    def start(request: Request, s: Session, user: auth.CurrentUser, form: Any) -> str:
        """Checks, then the upload row and its worker; the result page's address."""
        check_csrf(s, request, user, form.get("csrf_token"))
        need(s, request, user, CAN_UPLOAD)
        allowed = kinds_for(user.role)
        kind = form.get("kind") if isinstance(form.get("kind"), str) else ""
        if kind not in allowed:
            kind = allowed[0] if len(allowed) == 1 else ""
        if not kind:
            raise HTTPException(400, "请选择文件类别")
        if kind == "stations" and user.role == "staff" and not user.station:
            raise HTTPException(403, "您的账号没有所属救助站")
        if not hasattr(form.get("file"), "read"):
            raise HTTPException(400, "请选择要上传的文件")
        return kind

    @app.post("/upload")
    async def upload_file(request: Request, s: DB, user: User) -> Response:
        form = await request.form()
        kind = await run_in_threadpool(start, request, s, user, form)
        path, size, name = await saved_file(form.get("file"))  # type: ignore[arg-type]

        def record() -> str:
            upload = Upload(token=secrets.token_urlsafe(16), username=user.username, kind=kind, file_name=name, size_bytes=size,
                            status="waiting", rows_in=0, rows_taken=0, rows_refused=0, values_rejected=0, warnings=0,
                            created_at=utcnow())
            s.add(upload)
            s.commit()
            own = user.station if user.role == "staff" else None
            threading.Thread(target=process, args=(request.app.state.url, upload.id, path, kind, own, user.username, ip(request)),
                             name="xunqin-upload", daemon=True).start()
            return upload.token

        return RedirectResponse(f"/upload/{await run_in_threadpool(record)}", status_code=303)

    # ---- police verification results: their own page, through the police import (xunqin.flows.police)

    @app.get("/upload/police", response_class=HTMLResponse)
    def police_form(request: Request, s: DB, user: User) -> Response:
        need(s, request, user, POLICE_UPLOAD)
        return render(request, "upload_police.html", user, result=None)

    def police_checks(request: Request, s: Session, user: auth.CurrentUser, form: Any) -> Any:
        check_csrf(s, request, user, form.get("csrf_token"))
        need(s, request, user, POLICE_UPLOAD)
        if not hasattr(form.get("file"), "read"):
            raise HTTPException(400, "请选择要上传的文件")
        from xunqin.flows import police

        return police

    def police_import(request: Request, user: auth.CurrentUser, module: Any, path: Path) -> Response:
        from xunqin.ingest import FileRefused

        try:
            result = module.import_file(request.app.state.url, path, actor=user.username)
        except FileRefused as exc:
            where = f"“{column_text(exc.column)}”列：" if exc.column else ""
            return render(request, "upload_police.html", user, code=400, result=None,
                          error=where + file_reason_text(exc.why))
        finally:
            shutil.rmtree(path.parent, ignore_errors=True)
        return render(request, "upload_police.html", user, result=result)

    @app.post("/upload/police", response_class=HTMLResponse)
    async def police_upload(request: Request, s: DB, user: User) -> Response:
        form = await request.form()
        module = await run_in_threadpool(police_checks, request, s, user, form)
        path, _, _ = await saved_file(form.get("file"))  # type: ignore[arg-type]
        return await run_in_threadpool(police_import, request, user, module, path)

    def own_upload(s: Session, request: Request, user: auth.CurrentUser, token: str) -> Upload:
        need(s, request, user, CAN_UPLOAD)
        upload = s.scalars(sa.select(Upload).where(Upload.token == token[:64])).first()
        if upload is None or (upload.username != user.username and user.role != "admin"):
            raise HTTPException(404, "没有这次上传")
        return upload

    @app.get("/upload/{token}", response_class=HTMLResponse)
    def upload_result(request: Request, s: DB, user: User, token: str) -> Response:
        upload = own_upload(s, request, user, token)
        finished = upload.status in FINISHED
        source = s.get(SourceFile, upload.source_file_id) if upload.source_file_id else None
        rejects = reject_rows(s, upload.source_file_id) if finished and upload.source_file_id else []
        if finished and rejects:
            audit_log.add(s, user.username, "upload_rejects_view", ip=ip(request), entity="source_file", entity_id=str(upload.source_file_id),
                  detail={"rows": len(rejects)})
            s.commit()
        label, step = STAGES[upload.status]
        return render(request, "upload_result.html", user, upload=upload, finished=finished, stage=label, step=step,
                      steps=len(STAGES) - 3, source=source, rejects=rejects, shown_limit=SHOWN_REJECTS, kind_text=KIND_TEXT)

    @app.get("/upload/{token}/rejects.csv")
    def upload_rejects(request: Request, s: DB, user: User, token: str) -> Response:
        upload = own_upload(s, request, user, token)
        if upload.source_file_id is None:
            raise HTTPException(404, "这次上传没有被拒收的内容")
        rows = reject_rows(s, upload.source_file_id, limit=None)
        audit_log.add(s, user.username, "upload_rejects_download", ip=ip(request), entity="source_file", entity_id=str(upload.source_file_id),
              detail={"rows": len(rows)})
        s.commit()
        return Response(rejects_csv(rows), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f"attachment; filename=\"rejects.csv\"; filename*=UTF-8''{quote('未收内容_' + upload.file_name + '.csv')}"})


POLICE_UPLOAD = frozenset({"police", "admin"})

# The upload form's progress bar while the browser sends the file (the page works without it).
PROGRESS_JS = """\
(function () {
  var form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var bar = document.getElementById("send-progress"), text = document.getElementById("send-text");
    bar.hidden = false;
    var xhr = new XMLHttpRequest();
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { bar.max = e.total; bar.value = e.loaded; text.textContent = "正在上传：" + Math.round(100 * e.loaded / e.total) + "%"; }
    };
    xhr.onload = function () {
      if (xhr.status < 400) { window.location.href = xhr.responseURL; return; }
      document.open(); document.write(xhr.responseText); document.close();  // the server's error page
    };
    xhr.onerror = function () { text.textContent = "上传中断，请重试"; };
    xhr.open("POST", form.action);
    xhr.send(new FormData(form));
    text.textContent = "正在上传…";
  });
})();
"""
