"""ID numbers sealed at rest (portal/sealing.py): the four ID-number columns widen to
hold sealed text and every existing number is sealed under the current key; a volunteer record
is kept unique by the keyed hash of its number (volunteers.id_card_hash), and its number may be
erased (a deleted account: users.deleted_at says when; a withdrawn volunteer consent:
volunteers.withdrawn_at).

On SQLite the old plain text is overwritten (secure_delete) as the rows change. On PostgreSQL
the old row versions stay in the table's files until VACUUM: run `VACUUM FULL users, bookings,
volunteers` after this upgrade (README, "Keys").

Revision ID: 0019_sealed_ids
Revises: 0018_resident_activities
Create Date: 2026-12-07 12:40:00
"""
from alembic import op
import sqlalchemy as sa

from portal.sealing import PREFIX, SEALED_LENGTH, lookup_hash, open_sealed, seal


revision = '0019_sealed_ids'
down_revision = '0018_resident_activities'
branch_labels = None
depends_on = None

COLUMNS = (("users", "id_card"), ("bookings", "id_card"), ("bookings", "proxy_id_card"),
           ("volunteers", "id_card"))


def _rows(bind, table, column, sealed):
    where = "LIKE" if sealed else "NOT LIKE"
    return bind.execute(sa.text(
        f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL AND {column} <> '' "
        f"AND {column} {where} '{PREFIX}:%'")).all()


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        bind.exec_driver_sql("PRAGMA secure_delete = ON")
    with op.batch_alter_table('volunteers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('id_card_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_volunteers_id_card'), type_='unique')
        batch_op.alter_column('id_card', existing_type=sa.String(length=18),
                              type_=sa.String(length=SEALED_LENGTH), nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_volunteers_id_card_hash'),
                                          ['id_card_hash'])
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('id_card', existing_type=sa.String(length=18),
                              type_=sa.String(length=SEALED_LENGTH))
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.alter_column('id_card', existing_type=sa.String(length=18),
                              type_=sa.String(length=SEALED_LENGTH))
        batch_op.alter_column('proxy_id_card', existing_type=sa.String(length=18),
                              type_=sa.String(length=SEALED_LENGTH))
    for table, column in COLUMNS:
        for row_id, value in _rows(bind, table, column, sealed=False):
            values = {"v": seal(value, f"{table}.{column}"), "id": row_id}
            extra = ""
            if table == "volunteers":
                values["h"], extra = lookup_hash(value), ", id_card_hash = :h"
            bind.execute(sa.text(f"UPDATE {table} SET {column} = :v{extra} WHERE id = :id"),
                         values)


def downgrade():
    bind = op.get_bind()
    opened = [(table, column, row_id, open_sealed(text, f"{table}.{column}"))
              for table, column in COLUMNS
              for row_id, text in _rows(bind, table, column, sealed=True)]
    lost = sum(value is None for *_, value in opened)
    if lost or bind.execute(sa.text("SELECT count(*) FROM volunteers WHERE id_card IS NULL "
                                    "OR id_card = ''")).scalar():
        raise RuntimeError(f"{lost} ID numbers cannot be opened with the keys at hand, or a "
                           "volunteer record has none (a deleted account): the old schema "
                           "needs every volunteer's number")
    for table, column, row_id, value in opened:
        bind.execute(sa.text(f"UPDATE {table} SET {column} = :v WHERE id = :id"),
                     {"v": value, "id": row_id})
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.alter_column('proxy_id_card', existing_type=sa.String(length=SEALED_LENGTH),
                              type_=sa.String(length=18))
        batch_op.alter_column('id_card', existing_type=sa.String(length=SEALED_LENGTH),
                              type_=sa.String(length=18))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('deleted_at')
        batch_op.alter_column('id_card', existing_type=sa.String(length=SEALED_LENGTH),
                              type_=sa.String(length=18))
    with op.batch_alter_table('volunteers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_volunteers_id_card_hash'), type_='unique')
        batch_op.alter_column('id_card', existing_type=sa.String(length=SEALED_LENGTH),
                              type_=sa.String(length=18), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_volunteers_id_card'), ['id_card'])
        batch_op.drop_column('withdrawn_at')
        batch_op.drop_column('id_card_hash')
