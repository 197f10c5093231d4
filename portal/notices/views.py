"""Notices, the public side: the list, one notice, its attachments and the Atom feed. The
editors' pages are in `notices/manage.py`."""
from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Blueprint, Response, abort, request, send_file
from flask_babel import gettext as _
from sqlalchemy import func, select

from portal import uploads
from portal.extensions import db
from portal.notices import workflow
from portal.notices.forms import FilterForm
from portal.notices.models import Notice
from portal.notices.render import body_html, plain_text
from portal.timeutil import utcnow
from portal.web import public_url, render
from portal import params
from portal.params import page_number
from portal.notices.models import STATUS_LABELS as NOTICE_STATUS, VALIDITY_LABELS
from portal.templating import label_filters
from portal.page_cache import cached_page

bp = Blueprint("notices", __name__, url_prefix="/notices")
label_filters(bp, notice_status=NOTICE_STATUS, validity_label=VALIDITY_LABELS)
bp.add_app_template_filter(workflow.category_text, "category_text")

PER_PAGE = 20
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
@cached_page("notices", signed_in=True)
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
@cached_page("notices", signed_in=True)
def show(notice_id: int):
    """One notice with its metadata, body and attachments."""
    notice = _live_or_404(notice_id)
    return render("notices/show.html", notice=notice,
                  body=body_html(notice.body, notice.body_format))


@bp.route("/<int:notice_id>/attachments/<int:attachment_id>")
def attachment(notice_id: int, attachment_id: int):
    """An attachment of a published notice, always as a download."""
    return download(_live_or_404(notice_id), attachment_id)


def download(notice: Notice, attachment_id: int):
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
