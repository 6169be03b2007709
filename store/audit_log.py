"""The audit log: who did what to which record, when, from which address (ids and counts only,
never values).

Actions are stored as stable English codes (what queries and tests rely on); people read them
through :data:`ACTION_NAMES`, one table code -> Chinese name. Every code written anywhere must
have a name there (a test reads every ``audit_log.add`` call of the source).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .models import AuditLog, utcnow

ANONYMOUS = "-"  # the actor of an entry no account is known for (a failed login, a login form)
IP_MAX = 64

ACTION_NAMES: dict[str, str] = {
    # workstation: accounts and sessions
    "login": "登录",
    "login_failed": "登录失败",
    "login_throttled": "登录被限制（失败次数过多）",
    "logout": "退出登录",
    # workstation: what was seen and done
    "person_view": "查看受助人员",
    "decision": "标记候选",
    "export_view": "查看导出预览",
    "export": "导出核查名单",
    "audit_view": "查看审计日志",
    # workstation: refused
    "access_denied": "拒绝访问",
    "csrf_failed": "表单校验失败（来源不明或已过期）",
    # accounts from the command line
    "user_added": "创建用户",
    "password_set": "重设密码",
    "user_disabled": "停用用户",
    # the night
    "file_taken": "接收文件",
    "file_quarantined": "隔离文件",
    "match": "夜间比对",
    "rematch_all": "全部重新比对",
    "model_saved": "保存比对模型",
    "model_activated": "启用比对模型",
    # police verification results
    "police_result": "录入公安核查结果",
    # workstation: the day's pages
    "queue_view": "查看待审队列",
    "id_number_view": "查看完整身份证号",
    "search": "查找",
    "family_match": "寻亲登记比对",
    "family_case_saved": "保存寻亲登记",
    "upload": "上传文件",
    "upload_rejects_view": "查看上传未收内容",
    "upload_rejects_download": "下载上传未收内容",
    "dashboard_export": "导出全省统计",
    "station_added": "登记救助站",
    "station_changed": "修改救助站",
}


def action_name(code: str) -> str:
    """The Chinese name of an action code (the code itself for one the table does not know)."""
    return ACTION_NAMES.get(code, code)


def add(session: Session, actor: str, action: str, *, entity: str | None = None, entity_id: str | None = None,
        run_id: int | None = None, detail: dict[str, Any] | None = None, ip: str | None = None) -> None:
    """One audit row; ``detail`` must hold ids and counts only; ``ip`` is the client address of
    a workstation action (None for the night and the command line)."""
    session.add(AuditLog(at=utcnow(), actor=actor, action=action, entity=entity, entity_id=entity_id, run_id=run_id,
                         detail=detail, ip=None if ip is None else ip[:IP_MAX]))
