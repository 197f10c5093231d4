"""The civility board, the public side (`civility`): the board, its issues and items, reporting
and tracking one's own reports. Moderation and rectification are in `civility/manage.py`.

Public pages show only published items within their retention, only redacted photos, and
never who reported. Photos are served by views that check, never from static/.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, abort, flash, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from portal import uploads
from portal.civility import photos as photo_files
from portal.civility import workflow
from portal.civility.forms import (AppealForm, ReportForm)
from portal.civility.models import (Issue, Photo, Report, ReportCategory)
from portal.database import release_lock
from portal.extensions import db, limiter
from portal.timeutil import local_today, utcnow
from portal.web import attempt, form_status, render, user_key
from portal.civility.models import (APPEAL_LABELS, EVENT_LABELS, KIND_LABELS,
                                    RECTIFICATION_LABELS, STATUS_LABELS as REPORT_STATUS)
from portal.templating import label_filters
from portal.page_cache import cached_page

bp = Blueprint("civility", __name__)
label_filters(bp, report_kind=KIND_LABELS, report_status=REPORT_STATUS,
              rectification_label=RECTIFICATION_LABELS, appeal_status=APPEAL_LABELS,
              civility_event=EVENT_LABELS)

# -- the public board ---------------------------------------------------------------------------

@bp.route("/civility/")
@cached_page("civility", "places", signed_in=True)
def board():
    """The latest issues, the red and black lists, and the counts that stay public."""
    now = utcnow()
    issues = db.session.scalars(select(Issue).order_by(Issue.number.desc()).limit(8)).all()
    lists = {kind: db.session.scalars(
        workflow.public_query(now).where(Report.kind == kind)
        .options(selectinload(Report.photos), selectinload(Report.category))
        .order_by(Report.published_at.desc(), Report.id.desc()).limit(12)).all()
        for kind in ("praise", "uncivil")}
    last_month = (local_today().replace(day=1) - timedelta(days=1)).replace(day=1)
    return render("civility/board.html", issues=issues, lists=lists,
                  counts=workflow.counts(), retention=workflow.retention_days(),
                  likes=workflow.likes(r.id for r in lists["praise"]), last_month=last_month,
                  ranking=workflow.ranking(last_month))


@bp.route("/civility/issues/<int:number>")
@cached_page("civility", "places", signed_in=True)
def issue(number: int):
    """One weekly issue: its items still within their retention."""
    found = db.session.scalar(select(Issue).where(Issue.number == number)) or abort(404)
    items = db.session.scalars(workflow.public_query().where(Report.issue_id == found.id)
                               .options(selectinload(Report.photos),
                                        selectinload(Report.category),
                                        selectinload(Report.department))
                               .order_by(Report.kind.desc(), Report.id)).all()
    return render("civility/issue.html", issue=found, items=items, today=local_today(),
                  likes=workflow.likes(r.id for r in items if r.kind == "praise"))


def _public_or_404(report_id: int) -> Report:
    report = db.session.get(Report, report_id)
    if report is None or not report.public(utcnow()):
        abort(404)
    return report


@bp.route("/civility/items/<int:report_id>", methods=["GET", "POST"])
@limiter.limit("5 per hour", methods=["POST"])
def item(report_id: int):
    """One published item, and the form to appeal or ask for a correction."""
    report = _public_or_404(report_id)
    form = AppealForm()
    if form.validate_on_submit():
        if not form.website.data:  # the honeypot: bots are told "thanks" and nothing is kept
            workflow.appeal(report, name=form.name.data, phone=form.phone.data,
                            text=form.text.data)
        flash(_("已收到您的申诉，文明办会核实处理，并把结果发到您的手机。"), "success")
        return redirect(url_for("civility.item", report_id=report.id))
    mine = current_user.is_authenticated and workflow.liked(report.id, current_user.id)
    return (render("civility/item.html", report=report, form=form, today=local_today(),
                   likes=workflow.likes([report.id]), liked=mine), form_status(form))


@bp.route("/civility/items/<int:report_id>/like", methods=["POST"])
@login_required
@limiter.limit("60 per hour", key_func=user_key)
def like(report_id: int):
    """点赞 a red-list item, or take the like back (one per account)."""
    report = _public_or_404(report_id)
    on = request.form.get("on") != "0"
    attempt(lambda: workflow.like(report, current_user.id, on),
            _("已点赞。") if on else _("已取消点赞。"))
    return redirect(url_for("civility.item", report_id=report.id) + "#likes")


@bp.route("/civility/photos/<int:photo_id>/<any(full, thumb):size>")
def public_photo(photo_id: int, size: str):
    """A redacted photo of a public item; nothing else is ever served here."""
    photo = db.session.get(Photo, photo_id)
    if photo is None or photo.hidden or not photo.public or not photo.report.public(utcnow()):
        abort(404)
    return send_photo(photo.public if size == "full" else photo.public_thumb, private=False)


def send_photo(stored_name: str, private: bool):
    try:
        response = send_file(uploads.path_of(photo_files.AREA, stored_name),
                             mimetype="image/jpeg", max_age=0 if private else 3600)
    except FileNotFoundError:
        abort(404)
    if private:
        response.headers["Cache-Control"] = "no-store"
    return response


# -- reporting and tracking ----------------------------------------------------------------------

def _categories() -> list[SelectChoice]:
    rows = db.session.scalars(select(ReportCategory).where(ReportCategory.active.is_(True))
                              .order_by(ReportCategory.position, ReportCategory.id))
    return [SelectChoice(0, _("请选择"))] + [SelectChoice(c.id, c.name) for c in rows]


@bp.route("/civility/report", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per hour; 30 per day", methods=["POST"])
@limiter.limit("10 per hour; 30 per day", methods=["POST"], key_func=user_key)
def report():
    """随手拍: a report (or a praise) with up to four photos, from a phone."""
    form = ReportForm()  # (web.LARGE_UPLOADS lets a too-large photo reach the checks below)
    form.category.choices = _categories()
    status = form_status(form)
    if request.method == "POST":
        release_lock()  # decoding and re-encoding photos is slow: nobody waits for it
        processed, problems = _photos(request.files.getlist("photos"))
        for problem in problems:
            form.form_errors.append(problem)
        if form.validate_on_submit() and not problems:
            saved = _submit(form, processed)
            if saved is not None:
                return saved
        status = 422
    return render("civility/report.html", form=form), status


def _photos(files) -> tuple[list, list]:
    """Every photo checked; the good ones kept, a message for each bad one."""
    processed, problems = [], []
    files = [f for f in files if f and f.filename]
    if len(files) > workflow.MAX_PHOTOS:
        problems.append(_("最多上传%(n)d张照片。", n=workflow.MAX_PHOTOS))
        files = files[:workflow.MAX_PHOTOS]
    for f in files:
        try:
            processed.append(photo_files.process(uploads.read_limited(f, photo_files.MAX_BYTES)))
        except uploads.UploadRefused as refused:
            problems.append(f"{f.filename[:60]}：{refused.message}")
    return processed, problems


def _submit(form, processed):
    category = db.session.get(ReportCategory, form.category.data)
    if category is None or not category.active:
        form.category.errors.append(_("请选择类别"))
        return None
    place = form.place.data or _place_from_gps(processed)
    if not place:
        form.place.errors.append(_("请写下地点（照片里有定位的，可以不填）"))
        return None
    if form.website.data:  # the honeypot: a bot; pretend all is well, keep nothing
        return redirect(url_for("civility.board"))
    saved = workflow.submit(current_user, kind=form.kind.data, category=category,
                            description=form.description.data, place=place,
                            occurred_at=datetime.combine(form.day.data, form.at.data),
                            processed=processed)
    flash(_("已收到，编号 %(id)d。文明办核实后才会公开；您可以在这里跟进处理进度。", id=saved.id), "success")
    return redirect(url_for("civility.mine", report_id=saved.id))


def _place_from_gps(processed) -> str:
    """The village nearest to where a photo was taken (its GPS), if any photo has one, and the
    position rounded to about 100 m: the place is public once verified, and the exact position
    says where the reporter stood (moderators see that one on the review page)."""
    located = next((p for p in processed if p.latitude is not None), None)
    if located is None:
        return ""
    from portal.places.models import Station
    stations = db.session.scalars(select(Station).where(Station.latitude.is_not(None))).all()
    nearest = min(stations, key=lambda s: (s.latitude - located.latitude) ** 2 +
                  (s.longitude - located.longitude) ** 2, default=None)
    near = f"{nearest.village.name}附近" if nearest and nearest.village else ""
    return f"{near}（照片定位约 {located.latitude:.3f}, {located.longitude:.3f}）"


@bp.route("/me/reports/")
@bp.route("/me/reports/<int:report_id>")
@login_required
def mine(report_id: int | None = None):
    """The reporter's own reports and how each is getting on."""
    if report_id is None:
        reports = db.session.scalars(select(Report).where(Report.reporter_id == current_user.id)
                                     .order_by(Report.id.desc())).all()
        return render("civility/mine.html", reports=reports)
    found = db.session.get(Report, report_id)
    if found is None or found.reporter_id != current_user.id:
        abort(404)
    return render("civility/tracking.html", report=found, today=local_today())


@bp.route("/civility/my-photos/<int:photo_id>")
@login_required
def own_photo(photo_id: int):
    """A reporter's own photo (the working copy, already without metadata)."""
    photo = db.session.get(Photo, photo_id)
    if photo is None or photo.report.reporter_id != current_user.id:
        abort(404)
    return send_photo(photo.original_thumb, private=True)
