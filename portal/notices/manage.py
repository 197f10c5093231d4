"""Notices, the editors' side at /editor/notices (`editor`): write, review, schedule, publish,
withdraw, attach files, view revisions."""
from __future__ import annotations

import difflib
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import distinct, select

from portal import audit, uploads
from portal.extensions import db, limiter
from portal.notices import workflow
from portal.notices.forms import NoticeForm, PublishForm
from portal.notices.models import STATUSES, Notice, NoticeAttachment, NoticeRevision
from portal.notices.render import body_html
from portal.notices.workflow import NoticeRefused
from portal.security import staff_only
from portal.timeutil import to_utc, utcnow
from portal.web import form_status, render
from portal.params import page_number
from portal.notices.views import download

editor = Blueprint("editor", __name__, url_prefix="/editor")
staff_only(editor, "editor", "town_staff", "admin")
ATTACHMENT_MAX = 10 * 1024 * 1024


def _notice_or_404(notice_id: int) -> Notice:
    return db.get_or_404(Notice, notice_id)


@editor.route("/notices")
def notices():
    """Every notice, by status, newest change first."""
    status = request.args.get("status")
    query = select(Notice).order_by(Notice.updated_at.desc())
    if status in STATUSES:
        query = query.where(Notice.status == status)
    page = db.paginate(query, page=page_number(), per_page=30,
                       error_out=False)
    return render("editor/notices.html", page=page, status=status, now=utcnow())


def _suggestions() -> dict:
    return {name: db.session.scalars(select(distinct(column)).where(column != "")
                                     .order_by(column).limit(100)).all()
            for name, column in (("agencies", Notice.agency), ("categories", Notice.category))}


@editor.route("/notices/new", methods=["GET", "POST"])
@editor.route("/notices/<int:notice_id>", methods=["GET", "POST"])
def edit(notice_id: int | None = None):
    """Write a notice or change it; each save is a new revision."""
    notice = _notice_or_404(notice_id) if notice_id else None
    form = NoticeForm(obj=notice)
    if form.validate_on_submit():
        try:
            notice = workflow.save(notice, current_user, **{
                name: getattr(form, name).data for name in workflow.FIELDS})
        except NoticeRefused as refused:
            form.form_errors.append(refused.message)
        else:
            flash(_("已保存（第%(n)d版）。", n=notice.revision), "success")
            return redirect(url_for("editor.edit", notice_id=notice.id))
    return render("editor/edit.html", form=form, notice=notice, publish_form=PublishForm(),
                  now=utcnow(), **_suggestions()), form_status(form)


_STEPS = {
    "submit": lambda n, me: workflow.submit(n, me),
    "return": lambda n, me: workflow.return_to_draft(n, me),
    "withdraw": lambda n, me: workflow.withdraw(n, me),
    "restore": lambda n, me: workflow.restore(n, me),
    "pin": lambda n, me: workflow.pin(n, me, True),
    "unpin": lambda n, me: workflow.pin(n, me, False),
}


@editor.route("/notices/<int:notice_id>/<any(submit, return, withdraw, restore, pin, unpin):step>",
              methods=["POST"])
def move(notice_id: int, step: str):
    """A workflow step (publishing and withdrawing need the editor role)."""
    notice = _notice_or_404(notice_id)
    try:
        _STEPS[step](notice, current_user)
    except NoticeRefused as refused:
        if refused.code == "role":
            abort(403)
        flash(refused.message, "error")
    else:
        flash(_("已完成。"), "success")
    return redirect(url_for("editor.edit", notice_id=notice.id))


@editor.route("/notices/<int:notice_id>/publish", methods=["POST"])
def publish(notice_id: int):
    """Publish now or at a set time (local); only editors."""
    notice = _notice_or_404(notice_id)
    form = PublishForm()
    if not form.validate():
        flash(" ".join(str(e) for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("editor.edit", notice_id=notice.id))
    at = None
    if form.when.data == "later":
        at = to_utc(datetime.combine(form.day.data, form.at.data))
    try:
        workflow.publish(notice, current_user, at)
    except NoticeRefused as refused:
        if refused.code == "role":
            abort(403)
        flash(refused.message, "error")
    else:
        flash(_("已定时发布。") if at and at > utcnow() else _("已发布。"), "success")
    return redirect(url_for("editor.edit", notice_id=notice.id))


@editor.route("/notices/<int:notice_id>/attachments", methods=["POST"])
@limiter.limit("60 per hour")
def upload(notice_id: int):
    """Attach a file: PDF, Word, Excel or an image, checked by its content, ≤ 10 MB."""
    notice = _notice_or_404(notice_id)
    file = request.files.get("file")
    try:
        if file is None or not file.filename:
            raise uploads.UploadRefused(_("请选择要上传的文件。"))
        data = uploads.read_limited(file, ATTACHMENT_MAX)
        kind = uploads.document_kind(data, file.filename)
        if kind in ("jpeg", "png", "webp"):  # a photo's GPS and camera must not go public
            data = uploads.reencoded(data, kind)
    except uploads.UploadRefused as refused:
        flash(refused.message, "error")
        return redirect(url_for("editor.edit", notice_id=notice.id) + "#attachments")
    stored = uploads.store("notices", data, "jpg" if kind == "jpeg" else kind)
    item = NoticeAttachment(notice=notice, filename=uploads.clean_filename(file.filename, kind),
                            stored_name=stored.stored_name, kind=kind, size=stored.size,
                            sha256=stored.sha256, uploaded_by=current_user.id)
    db.session.add(item)
    audit.record("notice.attach", notice, filename=item.filename, kind=kind, size=item.size)
    db.session.commit()
    flash(_("已上传“%(name)s”。", name=item.filename), "success")
    return redirect(url_for("editor.edit", notice_id=notice.id) + "#attachments")


@editor.route("/notices/<int:notice_id>/attachments/<int:attachment_id>/delete",
              methods=["POST"])
def remove_attachment(notice_id: int, attachment_id: int):
    """Take an attachment off a notice (recorded in the audit log)."""
    notice = _notice_or_404(notice_id)
    item = next((a for a in notice.attachments if a.id == attachment_id), None) or abort(404)
    audit.record("notice.detach", notice, filename=item.filename)
    notice.attachments.remove(item)
    db.session.commit()
    flash(_("已删除附件。"), "success")
    return redirect(url_for("editor.edit", notice_id=notice.id) + "#attachments")


@editor.route("/notices/<int:notice_id>/attachments/<int:attachment_id>")
def staff_attachment(notice_id: int, attachment_id: int):
    """An attachment as editors see it, also before the notice is published."""
    return download(_notice_or_404(notice_id), attachment_id)


@editor.route("/notices/<int:notice_id>/preview")
def preview(notice_id: int):
    """The notice as the public will see it, whatever its state."""
    notice = _notice_or_404(notice_id)
    return render("notices/show.html", notice=notice, preview=True,
                  body=body_html(notice.body, notice.body_format))


@editor.route("/notices/<int:notice_id>/revisions")
@editor.route("/notices/<int:notice_id>/revisions/<int:number>")
def revisions(notice_id: int, number: int | None = None):
    """Every revision, and one of them with what changed since the one before."""
    notice = _notice_or_404(notice_id)
    chosen = next((r for r in notice.revisions if r.number == number), None) if number else None
    if number and chosen is None:
        abort(404)
    diff = None
    if chosen is not None:
        before = next((r for r in notice.revisions if r.number == number - 1), None)
        diff = list(difflib.unified_diff(_lines(before), _lines(chosen), lineterm="", n=2))[2:]
    return render("editor/revisions.html", notice=notice, chosen=chosen, diff=diff)


def _lines(revision: NoticeRevision | None) -> list[str]:
    if revision is None:
        return []
    head = [f"{name}: {getattr(revision, name) or ''}" for name in workflow.FIELDS if name != "body"]
    return head + ["", *revision.body.splitlines()]
