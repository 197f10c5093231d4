"""The dashboard's tables and what their columns are called, in order: the page, the CSV, the
JSON and /open-data share them."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

SERVICE = {"booked": _l("预约和登记"), "walk_ins": _l("其中现场登记"), "no_show": _l("未到场"),
           "on_the_spot": _l("当场办结率"), "forwarded": _l("转镇中心比例"),
           "returned": _l("退回补正比例"), "wait_mean": _l("平均等候（分钟）"),
           "wait_p90": _l("九成人等候不超过（分钟）")}
RATINGS = {"ratings": _l("评价数"), "l5": _l("非常满意"), "l4": _l("满意"), "l3": _l("基本满意"),
           "l2": _l("不满意"), "l1": _l("非常不满意"), "satisfied": _l("满意率"),
           "callback_on_time": _l("差评1个工作日内回访"), "callback_late": _l("回访超时"),
           "rectify_on_time": _l("15个工作日内整改"), "rectify_late": _l("整改超时")}
TREND = {"booked": _l("预约"), "walk_ins": _l("现场登记")}
NOW = {"waiting": _l("正在等候"), "in_hand": _l("正在办理"),
       "wait": _l("现在取号预计等候（分钟）"), "next_free": _l("最早可约时间"), "address": _l("地址")}
CATEGORIES = {"reports": _l("报告数"), "verified": _l("核实比例")}
DEPARTMENTS = {"due": _l("到期整改"), "on_time": _l("按期整改率"), "late": _l("逾期完成"),
               "overdue": _l("逾期未完成")}
APPEALS = {"open": _l("处理中"), "upheld": _l("维持"), "corrected": _l("已更正"),
           "withdrawn": _l("已撤下")}
TEAMS = {"hours": _l("认定服务时长（小时）"), "volunteers": _l("参与志愿者")}
STARS = {"volunteers": _l("志愿者人数")}
VOLUNTEERING = {"activities": _l("活动"), "places": _l("名额"), "filled": _l("已报名"),
                "wishes": _l("实现微心愿"), "wish_value": _l("微心愿总价值（元）"),
                "orders_done": _l("完成的服务订单"), "orders_rated": _l("已评价订单"),
                "order_rating": _l("订单平均评分")}
COLUMNS = {"service": SERVICE, "ratings": RATINGS, "trend": TREND, "now": NOW,
           "categories": CATEGORIES, "departments": DEPARTMENTS, "appeals": APPEALS,
           "teams": TEAMS, "stars": STARS, "volunteering": VOLUNTEERING}
TABLES = tuple(COLUMNS)
