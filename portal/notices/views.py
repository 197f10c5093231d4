"""Notices: the public list, one notice, its attachments and the Atom feed (`notices`), and
the editors' pages at /editor/notices (`editor`: write, review, schedule, publish, withdraw,
attach files, view revisions)."""
from __future__ import annotations

import difflib
from datetime import UTC, date, datetime

from flask import Blueprint, Response, abort, flash, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import distinct, func, select

from portal import audit, uploads
from portal.extensions import db, limiter
from portal.notices import workflow
from portal.notices.forms import FilterForm, NoticeForm, PublishForm
from portal.notices.models import STATUSES, Notice, NoticeAttachment, NoticeRevision
from portal.notices.render import body_html, plain_text
from portal.notices.workflow import NoticeRefused
from portal.security import staff_only
from portal.timeutil import to_utc, utcnow
from portal.web import form_status, public_url, render
from portal import params
from portal.params import page_number
from portal.notices.models import STATUS_LABELS as NOTICE_STATUS, VALIDITY_LABELS
from portal.templating import label_filters

bp = Blueprint("notices", __name__, url_prefix="/notices")
editor = Blueprint("editor", __name__, url_prefix="/editor")
label_filters(bp, notice_status=NOTICE_STATUS, validity_label=VALIDITY_LABELS)
staff_only(editor, "editor", "town_staff", "admin")

PER_PAGE = 20
ATTACHMENT_MAX = 10 * 1024 * 1024
FEED_SIZE = 30


# -- public --------------------------------------------------------------------------------------

def filtered(form: FilterForm):
    """Live notices matching the filters: pinned first, newest first."""
    query = workflow.live_query()
    if form.category.data:
        query = query.where(Notice.category == form.category.data)
    if form.agency.data:
        query = query.where(Notice.agency == form.agency.data)
    if form.validity.data:
        query = query.where(Notice.validity == form.validity.data)
    if (year := params.year(form.year.data)) is not None:
        query = query.where(Notice.published_on.between(date(year, 1, 1), date(year, 12, 31)))
    return query.order_by(Notice.pinned.desc(), Notice.published_on.desc(), Notice.id.desc())


@bp.route("/")
def index():
    """Published notices, pinned first and newest first, filterable and paginated."""
    form = FilterForm(request.args)
    for name, choices in workflow.filter_choices().items():
        getattr(form, name).choices = choices
    page = db.paginate(filtered(form), page=page_number(),
                       per_page=PER_PAGE, error_out=False)
    return render("notices/index.html", "notices/_list.html", form=form, page=page)


def _live_or_404(notice_id: int) -> Notice:
    notice = db.session.get(Notice, notice_id)
    if notice is None or not notice.live(utcnow()):
        abort(404)
    return notice


@bp.route("/<int:notice_id>")
def show(notice_id: int):
    """One notice with its metadata, body and attachments."""
    notice = _live_or_404(notice_id)
    return render("notices/show.html", notice=notice,
                  body=body_html(notice.body, notice.body_format))


@bp.route("/<int:notice_id>/attachments/<int:attachment_id>")
def attachment(notice_id: int, attachment_id: int):
    """An attachment of a published notice, always as a download."""
    return _download(_live_or_404(notice_id), attachment_id)


def _download(notice: Notice, attachment_id: int):
    item = next((a for a in notice.attachments if a.id == attachment_id), None)
    if item is None:
        abort(404)
    try:
        path = uploads.path_of("notices", item.stored_name)
        return send_file(path, mimetype=uploads.DOCUMENT_KINDS[item.kind], as_attachment=True,
                         download_name=item.filename, max_age=3600)
    except FileNotFoundError:
        abort(404)


@bp.route("/feed.xml")
def feed():
    """The latest notices as an Atom feed (feedgen)."""
    from feedgen.feed import FeedGenerator
    notices = db.session.scalars(workflow.live_query().order_by(
        Notice.publish_at.desc(), Notice.id.desc()).limit(FEED_SIZE)).all()
    home = public_url("notices.index")
    fg = FeedGenerator()
    fg.id(home)
    fg.title(_("通办 · 政策通知"))
    fg.link(href=home, rel="alternate")
    fg.link(href=public_url("notices.feed"), rel="self")
    fg.language("zh-CN")
    # The feed changed when a notice in it was published or edited, or one left it.
    withdrawn = db.session.scalar(select(func.max(Notice.updated_at)).where(
        Notice.status == "withdrawn"))
    changes = [max(n.publish_at, n.updated_at) for n in notices] + [withdrawn] * bool(withdrawn)
    fg.updated(_aware(max(changes)) if changes else datetime.now(UTC))
    for notice in reversed(notices):  # feedgen prepends: oldest first gives newest on top
        url = public_url("notices.show", notice_id=notice.id)
        entry = fg.add_entry()
        entry.id(url)
        entry.title(notice.title)
        entry.link(href=url)
        entry.published(_aware(notice.publish_at))
        entry.updated(_aware(max(notice.publish_at, notice.updated_at)))
        entry.author(name=notice.agency or _("通办"))
        entry.summary(plain_text(notice.body, notice.body_format)[:200])
        entry.content(str(body_html(notice.body, notice.body_format)), type="html")
    return Response(fg.atom_str(pretty=False), mimetype="application/atom+xml")


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


# -- editors -------------------------------------------------------------------------------------

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
    notice = _notice_or_404(notice_id)
    item = next((a for a in notice.attachments if a.id == attachment_id), None) or abort(404)
    audit.record("notice.detach", notice, filename=item.filename)
    notice.attachments.remove(item)
    db.session.commit()
    flash(_("已删除附件。"), "success")
    return redirect(url_for("editor.edit", notice_id=notice.id) + "#attachments")


@editor.route("/notices/<int:notice_id>/attachments/<int:attachment_id>")
def staff_attachment(notice_id: int, attachment_id: int):
    return _download(_notice_or_404(notice_id), attachment_id)


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
