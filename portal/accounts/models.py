"""Accounts, their staff roles, and the server-side login sessions that make logout real."""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from portal.extensions import db
from portal.places.models import Station, Village
from portal.sealing import Sealed
from portal.timeutil import utcnow

# Staff roles. A clerk is bound to one station, a department account to one department
# (civility reports routed to it), a partner account to one partner shop (the codes it takes);
# every other role acts for the whole town.
ROLES = ("clerk", "town_staff", "editor", "moderator", "coordinator", "admin", "department",
         "partner")
ROLE_LABELS = {
    "clerk": _l("窗口人员"), "town_staff": _l("镇中心工作人员"), "editor": _l("信息编辑"),
    "moderator": _l("文明办审核员"), "coordinator": _l("志愿服务协调员"), "admin": _l("管理员"),
    "department": _l("责任部门"), "partner": _l("合作商家"),
}


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("length(phone) = 11", name="phone_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(11), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    password_hash: Mapped[str] = mapped_column(String(256))
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"), index=True)
    # Kept only to be shown masked (and revealed on purpose with an audit entry); encrypted.
    id_card: Mapped[str | None] = mapped_column(Sealed("users.id_card"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Where messages go besides the portal: SMS to the phone, e-mail if an address is given;
    # optional messages (reminders, volunteer news) only while the switch is on.
    email: Mapped[str | None] = mapped_column(String(254))
    locale: Mapped[str | None] = mapped_column(String(5))  # the language messages are sent in
    optional_messages: Mapped[bool] = mapped_column(default=True, server_default=true())
    phone_verified_at: Mapped[datetime | None]  # the phone answered a code sent to it
    phone_code_hash: Mapped[str | None] = mapped_column(String(64))  # the code sent, keyed hash
    phone_code_sent_at: Mapped[datetime | None]
    phone_code_tries: Mapped[int] = mapped_column(default=0, server_default="0")
    deleted_at: Mapped[datetime | None]  # the resident deleted the account (privacy/erase.py)

    village: Mapped[Village | None] = relationship()
    station: Mapped[Station | None] = relationship()
    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def roles(self) -> set[str]:
        return {r.role for r in self.role_rows}

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_staff(self) -> bool:
        return bool(self.role_rows)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(
            password, method=current_app.config["PASSWORD_HASH_METHOD"])
        self.password_changed_at = utcnow()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class UserRole(db.Model):
    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role", name="uq_user_roles_user_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))

    user: Mapped[User] = relationship(back_populates="role_rows")


class LoginSession(db.Model):
    """One signed-in browser. The cookie carries a token; only its hash is stored here.

    Deleting the row ends the session everywhere, so a copied cookie stops working after
    logout or a password change (a signed cookie alone cannot be revoked).
    """

    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    kiosk: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship()


class KnownDevice(db.Model):
    """A browser where this account signed in before: its random cookie's hash, nothing
    personal. Such a browser skips the account-wide login throttle (accounts/throttle.py),
    so a guesser elsewhere cannot lock the resident out of their own phone."""

    __tablename__ = "known_devices"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
