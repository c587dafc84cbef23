"""Storage for Hjulet: SQLAlchemy 2 async models, the ``Store`` repository, Alembic migrations and
pseudonyms. SQL lives only in this package.

    engine = make_engine(settings.database_url)       # once per process; upgrade(url) first
    factory = make_session_factory(engine)
    async with factory() as session, session.begin():  # the caller owns the transaction
        store = Store(session)
"""

from storage import chat_links as _chat_links  # noqa: F401 - registers the chat_links table
from storage import desk as _desk  # noqa: F401 - registers the desk's tables on the metadata
from storage import plans as _plans  # noqa: F401 - registers the plans' and assessments' tables
from storage.database import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    make_session_factory,
    mask_url,
    ping,
    upgrade,
)
from storage.errors import ConcurrentUpdate, NotFound, StorageError
from storage.identity import load_or_create_secret, pseudonym
from storage.models import Answer, Child, Concern, Consent, Conversation, User
from storage.records import (
    AnswerRecord,
    ChildRecord,
    ConcernRecord,
    ConsentRecord,
    ErasedCounts,
    UserData,
)
from storage.repositories import Store

__all__ = [
    "Answer",
    "AnswerRecord",
    "Child",
    "ChildRecord",
    "Concern",
    "ConcernRecord",
    "ConcurrentUpdate",
    "Consent",
    "ConsentRecord",
    "Conversation",
    "ErasedCounts",
    "NotFound",
    "StorageError",
    "Store",
    "User",
    "UserData",
    "alembic_config",
    "current_revision",
    "head_revision",
    "load_or_create_secret",
    "make_engine",
    "make_session_factory",
    "mask_url",
    "ping",
    "pseudonym",
    "upgrade",
]
