"""Import every model once, so Alembic and SQLAlchemy see the whole schema."""
from portal.accounts.models import LoginSession, User, UserRole  # noqa: F401
from portal.audit import AuditEvent  # noqa: F401
from portal.places.models import (  # noqa: F401
    CalendarDay, ClosedDay, OpeningPeriod, Station, Town, Village,
)
from portal.booking.models import (  # noqa: F401
    Booking, BookingEvent, HomeVisitRequest, Material, MaterialCheck, OpenBookingCount,
    ServiceCategory,
    ServiceItem, SlotUsage,
)
from portal.desk.models import Ticket, TicketCounter  # noqa: F401
from portal.notifications import Message  # noqa: F401
from portal.ratings.models import FollowUp, Rating  # noqa: F401
from portal.notices.models import Notice, NoticeAttachment, NoticeRevision  # noqa: F401
from portal.search.models import SearchOutbox, SynonymGroup  # noqa: F401
from portal.civility.models import (  # noqa: F401
    Appeal, Department, Issue, Like, Photo, Report, ReportCategory, ReportEvent,
)
from portal.volunteer.models import (  # noqa: F401
    Activity, Coordination, HourChange, HourRecord, ServiceOffer, ServiceOrder, SignUp, Step, Team,
    TeamMember, Volunteer, VolunteerStation, Wish,
)
from portal.points.models import (  # noqa: F401
    Partner, PointAccount, PointEntry, PointRule, Redemption, Reward,
)
from portal.page_cache import ContentStamp  # noqa: F401
from portal.dashboard.models import StationDay  # noqa: F401
