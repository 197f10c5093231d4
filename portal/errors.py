"""Friendly error pages in Chinese. A 500 never shows a traceback; a database that does not
answer is a 503 that says to come back, not a 500."""
from __future__ import annotations

from flask import current_app, g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.extensions import db, htmx, login_manager

RETRY_AFTER_SECONDS = 30

MESSAGES = {
    400: (_l("请求有误"), _l("页面收到的内容无法处理，请返回上一页重新操作。")),
    403: (_l("没有权限"), _l("您的账号不能访问这个页面。如需办理，请联系镇政务服务中心。")),
    404: (_l("页面不存在"), _l("您要找的页面不存在或已经删除，请检查网址，或从首页重新进入。")),
    405: (_l("请求方式不正确"), _l("请从页面上的按钮或链接进入。")),
    409: (_l("内容刚被别人保存过"),
          _l("同一时刻有人保存了相同的内容，您这次提交没有保存。请返回上一页，刷新后检查再提交。")),
    413: (_l("文件太大"), _l("上传的内容超过了大小限制，请压缩或减少文件后再试。")),
    429: (_l("操作太频繁"), _l("请稍等片刻再试。")),
    500: (_l("系统出错了"), _l("很抱歉，系统暂时出现问题，请稍后再试。")),
    503: (_l("暂时无法服务"), _l("系统正在维护或暂时繁忙，请稍等一两分钟再试。")),
}
# Honest about a form sent when it happened: its transaction was rolled back.
NOT_SAVED = _l("您刚才提交的内容没有保存，之前保存的内容不受影响。请稍后重新提交。")


def _submitted() -> str | None:
    return NOT_SAVED if request.method not in ("GET", "HEAD") else None


def render_error(code: int, detail: str | None = None):
    title, message = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    template = "errors/_error.html" if htmx and not htmx.boosted else "errors/error.html"
    return render_template(template, code=code, title=title, message=message,
                           detail=detail), code


def _without_database(code: int):
    """An error page that asks nothing of the database (it is what failed): the visitor is
    shown as signed out for this one page."""
    db.session.rollback()
    g._login_user = login_manager.anonymous_user()
    body, code = render_error(code, _submitted())
    return body, code, {"Retry-After": str(RETRY_AFTER_SECONDS)} if code == 503 else {}


def _unique_violation(error: IntegrityError) -> bool:
    """PostgreSQL's unique_violation (23505) or SQLite's UNIQUE constraint."""
    return getattr(error.orig, "sqlstate", None) == "23505" \
        or "UNIQUE constraint failed" in str(error.orig)


def register_errorhandlers(app) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error(400, _l("页面已过期或在别处打开过。请返回上一页，刷新后重新提交。"))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code and error.code < 400:
            return error
        detail = None
        if error.code == 429:
            detail = _l("请求太频繁（%(limit)s），请稍后再试。", limit=error.description)
        return render_error(error.code or 500, detail)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(error):
        """Database gone, locked past the busy timeout, or at the wrong schema."""
        current_app.logger.error("database unavailable on %s %s: %s", request.method,
                                 request.path, str(error.orig or error)[:200])
        return _without_database(503)

    @app.errorhandler(IntegrityError)
    def twin_saved(error):
        """A unique index refused a twin saved at the same moment by someone else (forms
        check first; this is the moment between the check and the insert). Any other broken
        constraint is a defect: a 500, logged."""
        if not _unique_violation(error):
            return unexpected(error)
        current_app.logger.warning("unique index on %s %s: %s", request.method,
                                   request.path, str(error.orig)[:200])
        db.session.rollback()
        return render_error(409)

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def out_of_range(error):
        """A number too large for the database: parameters are parsed by portal.params, so
        this is a view that forgot; logged as an error so the suite finds it."""
        current_app.logger.error("value out of range on %s %s: %s", request.method,
                                 request.path, str(error)[:200])
        db.session.rollback()
        return render_error(400)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return http_error(error)
        db.session.rollback()
        current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(InternalServerError.code, _submitted())
