"""Friendly error pages in Chinese. A 500 never shows a traceback."""
from __future__ import annotations

from flask import current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.extensions import db, htmx

MESSAGES = {
    400: (_l("请求有误"), _l("页面收到的内容无法处理，请返回上一页重新操作。")),
    403: (_l("没有权限"), _l("您的账号不能访问这个页面。如需办理，请联系镇政务服务中心。")),
    404: (_l("页面不存在"), _l("您要找的页面不存在或已经删除，请检查网址，或从首页重新进入。")),
    405: (_l("请求方式不正确"), _l("请从页面上的按钮或链接进入。")),
    413: (_l("文件太大"), _l("上传的内容超过了大小限制，请压缩或减少文件后再试。")),
    429: (_l("操作太频繁"), _l("请稍等片刻再试。")),
    500: (_l("系统出错了"), _l("很抱歉，系统暂时出现问题，您已提交的内容不会丢失。请稍后再试。")),
}


def render_error(code: int, detail: str | None = None):
    title, message = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    template = "errors/_error.html" if htmx and not htmx.boosted else "errors/error.html"
    return render_template(template, code=code, title=title, message=message,
                           detail=detail), code


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

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return http_error(error)
        db.session.rollback()
        current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(InternalServerError.code)
