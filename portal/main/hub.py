"""What the hub shows: the four services and today's notices."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Section:
    title: str
    summary: str
    endpoint: str  # where the section lives once its work has landed
    icon: str

    @property
    def url(self) -> str | None:
        """The section's page, or None while that part of the portal is not built yet."""
        if self.endpoint in current_app.view_functions:
            return url_for(self.endpoint)
        return None


SECTIONS = (
    Section(_l("办事预约"), _l("全镇“47+N”事项，就近到任一村便民服务站办理，先查办事指南、再预约时段。"),
            "booking.catalogue", "book"),
    Section(_l("文明曝光台"), _l("随手拍不文明行为、点赞文明之举，每周一期红黑榜，跟踪整改。"),
            "civility.board", "eye"),
    Section(_l("志愿服务"), _l("报名志愿活动、记录服务时长，认领邻里微心愿，点单上门服务。"),
            "volunteer.activities", "hand"),
    Section(_l("政策通知"), _l("镇村政策文件和通知公告，按分类、机关、年份查找。"),
            "notices.index", "doc"),
)


def sections() -> tuple[Section, ...]:
    return SECTIONS


def todays_notices(limit: int = 5) -> tuple[bool, list]:
    """(True, notices published today) — or, on a day without any, (False, the latest)."""
    from portal.extensions import db
    from portal.notices.models import Notice
    from portal.notices.workflow import live_query
    from portal.timeutil import local_today
    latest = db.session.scalars(live_query().order_by(
        Notice.pinned.desc(), Notice.published_on.desc(), Notice.id.desc()).limit(limit)).all()
    today = [n for n in latest if n.published_on == local_today()]
    return (True, today) if today else (False, latest)
