"""default_synonyms: a new portal finds 社会保障卡 when people type 社保卡

Revision ID: 0010_default_synonyms
Revises: 0009_known_devices
Create Date: 2026-12-01 13:30:00

Common government terms and the short forms residents type, from the "47+N" catalogue and
the policy vocabulary, one group per line. Loaded only into an empty list: an installation
that has its own keeps it. Admins edit them at /admin/synonyms; on an installation that
already has a search index, run `flask search reindex` after upgrading (the words join the
segmenter's dictionary).
"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


revision = '0010_default_synonyms'
down_revision = '0009_known_devices'
branch_labels = None
depends_on = None

GROUPS = """
社保 社会保险
社保卡 社会保障卡 医保卡
电子社保卡 电子社会保障卡
医保 医疗保险 基本医疗保险
新农合 城乡居民基本医疗保险 居民医保
职工医保 职工基本医疗保险
大病保险 城乡居民大病保险
医疗救助 大病救助
慢病 慢性病 门诊慢特病
异地就医 跨省就医 异地就医备案
养老保险 基本养老保险
新农保 城乡居民养老保险
养老金 基础养老金 退休金
失业金 失业保险金
失业证 就业失业登记证
工伤 工伤保险
生育险 生育保险
低保 最低生活保障
五保户 五保 特困人员 特困供养
临时救助 急难救助
高龄补贴 高龄津贴
老年证 老年人优待证
残疾证 残疾人证
残疾人补贴 残疾人两项补贴
公积金 住房公积金
公租房 公共租赁住房
廉租房 廉租住房
危房改造 农村危房改造 住房安全保障
不动产证 不动产权证书 房产证
宅基地 农村宅基地
土地确权 承包地确权 土地承包经营权
林权证 林权
户口本 户口簿
户籍证明 户口证明
迁户口 户口迁移
身份证 居民身份证
居住证 暂住证
出生证 出生医学证明
准生证 生育服务证 生育登记
独生子女证 独生子女父母光荣证
计生 计划生育
无犯罪记录证明 无犯罪证明
营业执照 工商执照
个体户 个体工商户
退伍军人 退役军人
优抚 优待抚恤
农机补贴 农机购置补贴
种粮补贴 耕地地力保护补贴
惠农补贴 惠民惠农补贴
助学贷款 生源地助学贷款
法律援助 法援
调解 人民调解
驾驶证 驾照
行驶证 机动车行驶证
交通违法 违章
志愿者 义工
随手拍 文明随手拍
一次性告知 一次性告知书
代办 帮办代办 帮办
便民服务中心 便民服务站
"""


def _groups() -> list[str]:
    return [line.strip() for line in GROUPS.splitlines() if line.strip()]


def upgrade():
    synonyms = sa.table('search_synonyms', sa.column('terms', sa.String),
                        sa.column('updated_at', sa.DateTime))
    if op.get_bind().execute(sa.select(sa.func.count()).select_from(synonyms)).scalar():
        return
    now = datetime.now(UTC).replace(tzinfo=None)  # stored as naive UTC, like timeutil.utcnow
    op.bulk_insert(synonyms, [{'terms': terms, 'updated_at': now} for terms in _groups()])


def downgrade():
    synonyms = sa.table('search_synonyms', sa.column('terms', sa.String))
    op.execute(synonyms.delete().where(synonyms.c.terms.in_(_groups())))
