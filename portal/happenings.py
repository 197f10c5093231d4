"""Things that happened in one area that an area above it acts on (blinker signals).

An area low in the layers says what happened and never needs to know who listens: the points
area listens to approved hours, fulfilled wishes, finished service orders and verified civil
acts. A receiver runs inside the transaction of the step that sent it, before its commit, so
the step and what follows from it are saved together or not at all.
"""
from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

hours_decided = _signals.signal("hours-decided")  # sender: the HourRecord, approved or not
wish_fulfilled = _signals.signal("wish-fulfilled")  # sender: the Wish
order_done = _signals.signal("order-done")  # sender: the ServiceOrder
report_decided = _signals.signal("report-decided")  # sender: a civility Report, verified or not
