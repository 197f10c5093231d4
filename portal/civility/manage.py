"""The civility board, the staff side: moderation (`moderate`, the 文明办: review, redact,
merge, weekly issues, appeals) and rectification (`department`, the responsible departments).

Photos are served by views that check the role, never from static/.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import uploads
from portal.civility import photos as photo_files
from portal.civility import workflow
from portal.civility.forms import (CheckForm, DecideForm, ReasonForm, RectifyForm, RedactForm)
from portal.civility.models import (Appeal, Department, Photo, Report)
from portal.civility.workflow import CivilityRefused
from portal.extensions import db, limiter
from portal.security import staff_only
from portal.timeutil import local_today, utcnow
from portal.web import attempt, form_status, render
from portal.params import arg_id, arg_ids
from portal.civility.views import send_photo

moderate = Blueprint("moderate", __name__, url_prefix="/civility/moderate")
staff_only(moderate, "moderator")
department = Blueprint("department", __name__, url_prefix="/civility/department")
staff_only(department, "department")


# -- moderation ---------------------------------------------------------------------------------

@moderate.route("/")
def queue():
    """New reports, verified ones waiting for the next issue, open appeals, rectification."""
    now, today = utcnow(), local_today()
    by_status = {s: db.session.scalars(select(Report).where(Report.status == s)
                                       .order_by(Report.id)).all()
                 for s in ("submitted", "verified")}
    appeals = db.session.scalars(select(Appeal).where(Appeal.status == "open")
                                 .order_by(Appeal.id)).all()
    rectifying = db.session.scalars(workflow.public_query(now).where(
        Report.rectification.in_(("assigned", "rectifying"))).order_by(Report.rectify_due)).all()
    to_check = db.session.scalars(workflow.public_query(now).where(
        Report.rectification == "rectified").options(selectinload(Report.photos))
        .order_by(Report.rectified_at)).all()
    month = today.replace(day=1)
    return render("moderate/queue.html", by_status=by_status, appeals=appeals,
                  rectifying=rectifying, today=today, next_number=workflow.next_number(),
                  overdue=workflow.overdue, to_check=to_check, check_form=CheckForm(),
                  month=month, ranking=workflow.ranking(month),
                  last_month=(month - timedelta(days=1)).replace(day=1),
                  last_ranking=workflow.ranking((month - timedelta(days=1)).replace(day=1)))


def _after_photo() -> photo_files.Processed | None:
    """The optional after-photo of a rectification or a check, through the photo rules."""
    upload = request.files.get("photo")
    if not (upload and upload.filename):
        return None
    return photo_files.process(uploads.read_limited(upload, photo_files.MAX_BYTES))


@moderate.route("/reports/<int:report_id>/check", methods=["POST"])
@limiter.limit("60 per hour")
def check(report_id: int):
    """验收: the item is rectified as the department says (passed), or back to rectifying
    with what is still wrong and a new deadline; an optional after-photo."""
    found = db.session.get(Report, report_id) or abort(404)
    form = CheckForm()
    try:
        after = _after_photo()
    except uploads.UploadRefused as refused:
        flash(refused.message, "error")
        return redirect(url_for("moderate.queue") + "#check-title")
    if not form.validate_on_submit():
        flash(_("请选择验收结果。"), "error")
    else:
        attempt(lambda: workflow.check(found, current_user, form.outcome.data == "pass",
                                       form.note.data or "", form.due.data, after),
                _("验收已记录。"))
    return redirect(url_for("moderate.queue") + "#check-title")


def _report_or_404(report_id: int) -> Report:
    return db.session.get(Report, report_id) or abort(404)


@moderate.route("/reports/<int:report_id>")
def review(report_id: int):
    """A report with its photos (private working copies), redaction, and decisions."""
    found = _report_or_404(report_id)
    departments = db.session.scalars(select(Department).where(Department.active.is_(True))
                                     .order_by(Department.name)).all()
    return render("moderate/review.html", report=found, reason_form=ReasonForm(),
                  redact_form=RedactForm(), duplicates=workflow.duplicates(found),
                  departments=departments)


@moderate.route("/reports/<int:report_id>/<any(verify, reject, merge):action>", methods=["POST"])
def decide_report(report_id: int, action: str):
    """Verify, reject (with a reason the reporter sees) or merge a submitted report."""
    found = _report_or_404(report_id)
    if action == "verify":
        attempt(lambda: workflow.verify(found, current_user,
                                    arg_id("department", request.form) or None),
            _("已核实，将在下一期公开。"))
    elif action == "reject":
        form = ReasonForm()
        attempt(lambda: workflow.reject(found, current_user, form.reason.data or ""),
            _("已不采用，理由已告知报告人。"))
    elif (into := db.session.get(Report, arg_id("into", request.form) or 0)) is None:
        flash(_("请选择要合并到的报告。"), "error")
    else:
        attempt(lambda: workflow.merge(found, into, current_user), _("已合并。"))
    return redirect(url_for("moderate.review", report_id=found.id))


@moderate.route("/photos/<int:photo_id>/redact", methods=["POST"])
def redact(photo_id: int):
    """Paint boxes over faces and number plates (or keep the photo private)."""
    photo = db.session.get(Photo, photo_id) or abort(404)
    form = RedactForm()
    boxes = photo_files.parse_boxes(form.boxes.data or "", photo.width, photo.height)
    try:
        workflow.redact(photo, current_user, boxes, hide=bool(form.hide.data))
    except CivilityRefused as refused:
        flash(str(refused.message), "error")
        return redirect(url_for("moderate.review", report_id=photo.report_id)
                        + f"#photo-{photo.id}")
    flash(_("照片已处理：%(n)d处打码。", n=len(boxes)) if not form.hide.data else _("这张照片不公开。"),
          "success")
    return redirect(url_for("moderate.review", report_id=photo.report_id) + f"#photo-{photo.id}")


@moderate.route("/photos/<int:photo_id>/<any(original, thumb, public):which>")
def private_photo(photo_id: int, which: str):
    """The working copy (unredacted, without metadata) and the redacted one, for moderators."""
    photo = db.session.get(Photo, photo_id) or abort(404)
    name = {"original": photo.original, "thumb": photo.original_thumb,
            "public": photo.public}[which]
    return send_photo(name, private=True) if name else abort(404)


@moderate.route("/issues/new", methods=["GET", "POST"])
def new_issue():
    """Compile the next issue (第N期) from verified reports and publish it as a batch."""
    verified = db.session.scalars(select(Report).where(Report.status == "verified")
                                  .options(selectinload(Report.category))
                                  .order_by(Report.kind, Report.id)).all()
    if request.method == "POST":
        chosen = arg_ids("report")
        try:
            published = workflow.publish_issue(current_user, chosen)
        except CivilityRefused as refused:
            flash(refused.message, "error")
        else:
            flash(_("第%(n)d期已发布。", n=published.number), "success")
            return redirect(url_for("civility.issue", number=published.number))
    return render("moderate/new_issue.html", verified=verified,
                  number=workflow.next_number())


@moderate.route("/appeals/<int:appeal_id>", methods=["GET", "POST"])
def appeal(appeal_id: int):
    """One appeal: the report, what was asked, and the decision (upheld, corrected, withdrawn)."""
    entry = db.session.get(Appeal, appeal_id) or abort(404)
    form = DecideForm()
    if form.validate_on_submit():
        try:
            workflow.decide(entry, current_user, form.outcome.data, form.note.data,
                            form.description.data, form.place.data)
        except CivilityRefused as refused:
            form.form_errors.append(refused.message)
        else:
            flash(_("已处理申诉。"), "success")
            return redirect(url_for("moderate.queue"))
    return render("moderate/appeal.html", entry=entry, form=form), form_status(form)


# -- the responsible department ---------------------------------------------------------------------

@department.route("/")
def items():
    """The items routed to this department, overdue ones first."""
    today = local_today()
    mine_ = db.session.scalars(select(Report).where(
        Report.department_id == current_user.department_id, Report.status == "published")
        .options(selectinload(Report.photos)).order_by(Report.rectify_due)).all()
    rows = sorted(mine_, key=lambda r: (not workflow.overdue(r, today),
                                        r.rectification in ("rectified", "checked"),
                                        r.rectify_due or today))
    return render("department/items.html", rows=rows, today=today, overdue=workflow.overdue,
                  form=RectifyForm())


@department.route("/items/<int:report_id>/<any(start, finish):step>", methods=["POST"])
@limiter.limit("60 per hour")
def rectify(report_id: int, step: str):
    """Start work on an item, or record it rectified (with an optional after-photo)."""
    found = db.session.get(Report, report_id)
    if found is None or found.department_id != current_user.department_id \
            or current_user.department_id is None:
        abort(404)
    form = RectifyForm()
    try:
        after = _after_photo()
    except uploads.UploadRefused as refused:
        flash(refused.message, "error")
        return redirect(url_for("department.items"))
    if form.validate_on_submit():
        attempt(lambda: workflow.rectify(found, current_user, step, form.note.data or "", after),
            _("已记录。"))
    return redirect(url_for("department.items"))

