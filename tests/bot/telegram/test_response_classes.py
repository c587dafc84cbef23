"""aiogram's answer classes are built once per process, not on every Bot API call."""

from __future__ import annotations

import gc
import weakref

from aiogram.client.session.base import Response
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage, SendPhoto

from bot.telegram.channel import RESPONSE_TYPES


def test_the_answer_classes_of_the_calls_hjulet_makes_outlive_a_garbage_collection() -> None:
    """pydantic keeps parametrised generic classes weakly; without RESPONSE_TYPES a collection took
    them and each call rebuilt its class (2-3 ms of the event loop, per call, under load)."""
    for method in (SendMessage, EditMessageText, AnswerCallbackQuery, SendPhoto):
        kept = weakref.ref(Response[method.__returning__])  # type: ignore[name-defined]
        gc.collect()
        assert kept() is not None, f"{method.__name__}: its answer class was collected"
        assert Response[method.__returning__] in RESPONSE_TYPES  # type: ignore[name-defined]
