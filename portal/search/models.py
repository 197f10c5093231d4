"""What the search keeps in the database (the source of truth): the queue of index changes
still to apply, and the synonym groups admins edit."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.timeutil import utcnow


class SearchOutbox(db.Model):
    """One object whose index entry must be brought up to date (added, changed or removed:
    the drainer reads the object's current state, so the operation need not be stored).

    Written in the same transaction as the change, so a change is never lost even when the
    index cannot be written at that moment; removed only once the index has it.
    """

    __tablename__ = "search_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[str] = mapped_column(String(40))
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")


class SynonymGroup(db.Model):
    """Words that mean the same to people searching (社保卡 社会保障卡), space-separated.

    A group of one word just teaches the segmenter a word (a programme's name, say). Every
    word here is in the segmenter's dictionary, so changing them needs a reindex (the admin
    page starts one).
    """

    __tablename__ = "search_synonyms"

    id: Mapped[int] = mapped_column(primary_key=True)
    terms: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def words(self) -> list[str]:
        return self.terms.split()


# The PostgreSQL backend's documents (search/pg.py). A tsvector there; plain text on SQLite,
# where the table exists (one schema for both) but stays empty: Whoosh holds the documents.
_TSVECTOR = Text().with_variant(TSVECTOR(), "postgresql")


class SearchDocument(db.Model):
    """One searchable object as PostgreSQL full-text search finds it, written in the
    transaction that changes the object (so every node sees it at once, nothing to drain).

    `tsv` holds the words rjieba cut in Python (the same analysis as the Whoosh index), titles
    weight A, bodies B, the titles' pinyin C (`~weixinyuan`) and initials (`^wxy`);
    `title_tsv` the title part alone, small enough to rank broad queries by cheaply.
    """

    __tablename__ = "search_documents"
    __table_args__ = (
        Index("ix_search_documents_tsv", "tsv", postgresql_using="gin"),
        Index("ix_search_documents_title_tsv", "title_tsv", postgresql_using="gin"),
        # Broad queries take the newest matches in this order, reading no more than they show.
        Index("ix_search_documents_published", "published", "key"),
        Index("ix_search_documents_indexed_at", "indexed_at"),
    )

    key: Mapped[str] = mapped_column(String(60), primary_key=True)  # notice:12
    kind: Mapped[str] = mapped_column(String(20))
    tsv: Mapped[str] = mapped_column(_TSVECTOR)
    title_tsv: Mapped[str] = mapped_column(_TSVECTOR)
    category: Mapped[str] = mapped_column(String(80), default="")
    agency: Mapped[str] = mapped_column(String(120), default="")
    validity: Mapped[str] = mapped_column(String(20), default="valid")
    year: Mapped[str] = mapped_column(String(8), default="")
    published: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[str] = mapped_column(String(16))
    dictionary: Mapped[str] = mapped_column(String(16))  # the segmenter's word list it was cut with
    indexed_at: Mapped[datetime] = mapped_column(default=utcnow)
