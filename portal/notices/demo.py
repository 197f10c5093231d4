"""Demo notices (clearly marked as demo on their pages) and the default synonym groups."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from portal.extensions import db
from portal.notices.importer import import_lines
from portal.notices.models import Notice, NoticeRevision
from portal.timeutil import to_local, utcnow

DEMO_FILE = Path(__file__).resolve().parent / "data" / "demo-notices.jsonl"
PINNED = ("村村通办", "开放时间")
EXPIRED = {"2024年度城乡居民医疗保险": "expired", "2022年临时救助": "repealed"}
SCHEDULED = "暂停办理部分事项"
DRAFTS = (("关于2027年春节期间便民服务站值班安排的通知（草稿）", "draft"),
          ("关于开展2027年度残疾人两项补贴复核的通知", "review"))


def seed_notices() -> int:
    """Load the demo notices once; returns how many demo notices there are."""
    existing = db.session.scalar(select(func.count()).where(Notice.demo.is_(True)))
    if existing:
        return existing
    outcome = import_lines(DEMO_FILE.read_text(encoding="utf-8").splitlines())
    notices = db.session.scalars(select(Notice).where(Notice.id.in_(outcome.imported))).all()
    now = utcnow()
    for notice in notices:
        notice.demo = True
        notice.publish_at = now - timedelta(days=(to_local(now).date() - notice.published_on).days)
        notice.pinned = any(word in notice.title for word in PINNED)
        notice.validity = next((v for k, v in EXPIRED.items() if k in notice.title), "valid")
        if SCHEDULED in notice.title:  # scheduled: appears by itself in two days
            notice.publish_at = now + timedelta(days=2)
            notice.published_on = to_local(notice.publish_at).date()
    for title, status in DRAFTS:
        notice = Notice(title=title, agency="青禾镇人民政府（演示）", category="政务服务\\便民服务",
                        body="（演示草稿）具体安排另行通知。", body_format="plain", status=status,
                        demo=True, revision=1)
        notice.revisions.append(NoticeRevision(number=1, title=title, agency=notice.agency,
                                               category=notice.category, validity="valid",
                                               body=notice.body, body_format="plain"))
        db.session.add(notice)
    db.session.commit()
    return len(notices) + len(DRAFTS)
