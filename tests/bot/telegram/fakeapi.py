"""A fake Telegram Bot API server on 127.0.0.1 that the real aiogram client talks to over HTTP.

It keeps chats with their messages (text, inline keyboard, edits), queues updates for getUpdates
(long polling with offsets, as Telegram does), records every call, and can be told to fail a method
(429 with retry_after, 500, 403). Families are simulated with `Phone`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT = {"id": 4242, "is_bot": True, "first_name": "Hjulet", "username": "hjulet_test_bot"}
JSON_FIELDS = {"reply_markup", "commands", "scope", "allowed_updates", "link_preview_options", "entities"}


@dataclass
class Sent:
    message_id: int
    chat_id: int
    text: str | None
    keyboard: list[list[dict[str, Any]]] | None
    photo: bool = False
    edits: int = 0
    image: bytes | None = None  # an uploaded photo's bytes
    document: bytes | None = None  # an uploaded document's bytes (sendDocument)
    filename: str | None = None

    def as_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self.message_id,
            "date": int(time.time()),
            "chat": {"id": self.chat_id, "type": "private", "first_name": "Family"},
            "from": BOT,
        }
        if self.text is not None:
            message["caption" if self.photo or self.document is not None else "text"] = self.text
        if self.document is not None:
            message["document"] = {"file_id": "d", "file_unique_id": "d", "file_name": self.filename}
        if self.photo:
            message["photo"] = [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]
        if self.keyboard:
            message["reply_markup"] = {"inline_keyboard": self.keyboard}
        return message

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback_data) of every button."""
        return [(b["text"], b["callback_data"]) for row in self.keyboard or [] for b in row]


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class FakeBotAPI:
    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.chats: dict[int, list[Sent]] = {}
        self.pending: list[dict[str, Any]] = []
        self.confirmed = 0  # every update below this id has been confirmed by an offset
        self.answers: list[dict[str, Any]] = []  # answerCallbackQuery calls
        self.commands: dict[str | None, list[str]] = {}
        self.failures: dict[str, list[tuple[int, int | None]]] = {}
        self.delivered: dict[int, dict[str, Any]] = {}
        self.watchers: dict[int, asyncio.Event] = {}  # set when the bot sent to or edited in the chat
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._new = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.base = ""

    # ---- server ---------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        self._routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self.base

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/bot{token}/{method}", self._endpoint)

    async def stop(self) -> None:
        self._closing = True
        async with self._new:
            self._new.notify_all()  # release long polls still waiting (a killed bot leaves one)
        if self._runner is not None:
            await self._runner.cleanup()

    async def _endpoint(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append(Call(method, params))
        planned = self.failures.get(method)
        if planned:
            status, retry_after = planned.pop(0)
            return self._error(status, retry_after)
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        result = await handler(params)
        if isinstance(result, web.Response):
            return result
        if "chat_id" in params and (event := self.watchers.get(int(params["chat_id"]))) is not None:
            event.set()
        return web.json_response({"ok": True, "result": result})

    def watch(self, chat_id: int) -> asyncio.Event:
        """An event set whenever the bot sends to or edits in `chat_id`: wait on it, clear it."""
        return self.watchers.setdefault(chat_id, asyncio.Event())

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, str) and key in JSON_FIELDS:
                params[key] = json.loads(value)
            elif isinstance(value, str):
                params[key] = value
            else:  # an uploaded file (multipart): keep its bytes, and its name
                params[key] = value.file.read()
                params[f"{key}.filename"] = value.filename
        return params

    def _error(self, status: int, retry_after: int | None) -> web.Response:
        descriptions = {
            429: f"Too Many Requests: retry after {retry_after}",
            403: "Forbidden: bot was blocked by the user",
            500: "Internal Server Error",
            400: "Bad Request: something is wrong",
        }
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": descriptions[status]}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=status)

    def fail(self, method: str, status: int, *, retry_after: int | None = None, times: int = 1) -> None:
        """The next `times` calls of `method` fail with `status`."""
        self.failures.setdefault(method, []).extend([(status, retry_after)] * times)

    # ---- Bot API methods ------------------------------------------------

    async def _getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return BOT

    async def _getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        if offset:
            self.confirmed = max(self.confirmed, offset)
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
        timeout = float(params.get("timeout") or 0)
        async with self._new:
            if not self.pending and timeout and not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new.wait(), timeout)
        limit = int(params.get("limit") or 100)
        return self.pending[:limit]

    async def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._store(params, str(params["text"]))

    async def _sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        image = params.get("photo")
        if isinstance(image, str) and image.startswith("attach://"):  # aiogram names the upload's part
            image = params.get(image.removeprefix("attach://"))
        if not isinstance(image, bytes):
            return self._error(400, None)  # type: ignore[return-value]  # only uploads here, no file ids
        return self._store(params, params.get("caption"), image=image)

    async def _sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        part = params.get("document")
        if isinstance(part, str) and part.startswith("attach://"):  # aiogram names the upload's part
            part = part.removeprefix("attach://")
        else:
            part = "document"
        document, caption = params.get(part), params.get("caption")
        if not isinstance(document, bytes) or (caption is not None and len(caption) > 1024):
            return self._error(400, None)  # type: ignore[return-value]  # only uploads here, no file ids
        chat_id = int(params["chat_id"])
        sent = Sent(next(self._message_ids), chat_id, caption, None, document=document)
        sent.filename = params.get(f"{part}.filename")
        self.chats.setdefault(chat_id, []).append(sent)
        return sent.as_message()

    def _store(self, params: dict[str, Any], text: str | None, image: bytes | None = None) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        if text is not None and len(text) > (4096 if image is None else 1024):
            return self._error(400, None)  # type: ignore[return-value]
        keyboard = (params.get("reply_markup") or {}).get("inline_keyboard")
        sent = Sent(next(self._message_ids), chat_id, text, keyboard, image is not None, image=image)
        self.chats.setdefault(chat_id, []).append(sent)
        return sent.as_message()

    def _find(self, params: dict[str, Any]) -> Sent | None:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        return next((m for m in self.chats.get(chat_id, []) if m.message_id == message_id), None)

    async def _editMessageText(self, params: dict[str, Any]) -> Any:
        sent = self._find(params)
        if sent is None:
            return web.json_response(
                {"ok": False, "error_code": 400, "description": "Bad Request: message to edit not found"},
                status=400,
            )
        keyboard = (params.get("reply_markup") or {}).get("inline_keyboard")
        if sent.text == params["text"] and sent.keyboard == keyboard:
            return web.json_response(
                {"ok": False, "error_code": 400, "description": "Bad Request: message is not modified"},
                status=400,
            )
        sent.text, sent.keyboard, sent.edits = str(params["text"]), keyboard, sent.edits + 1
        return sent.as_message()

    async def _editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        sent = self._find(params)
        if sent is None:
            return web.json_response(
                {"ok": False, "error_code": 400, "description": "Bad Request: message to edit not found"},
                status=400,
            )
        sent.keyboard, sent.edits = (params.get("reply_markup") or {}).get("inline_keyboard"), sent.edits + 1
        return sent.as_message()

    async def _answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        self.answers.append(params)
        return True

    async def _setMyCommands(self, params: dict[str, Any]) -> bool:
        self.commands[params.get("language_code")] = [c["command"] for c in params["commands"]]
        return True

    async def _deleteWebhook(self, params: dict[str, Any]) -> bool:
        return True

    async def _setWebhook(self, params: dict[str, Any]) -> bool:
        return True

    # ---- what families do -----------------------------------------------

    async def push(self, update: dict[str, Any]) -> int:
        update_id = next(self._ids)
        self.pending.append({"update_id": update_id, **update})
        self.delivered[update_id] = self.pending[-1]
        async with self._new:
            self._new.notify_all()
        return update_id

    async def redeliver(self, update: dict[str, Any]) -> None:
        """Deliver an update again, with its old id (as after a crash before it was confirmed)."""
        self.pending.append(update)
        self.confirmed = min(self.confirmed, update["update_id"])
        async with self._new:
            self._new.notify_all()

    def update(self, update_id: int) -> dict[str, Any]:
        """A copy of an update that was delivered (kept for redelivery tests)."""
        return dict(self.delivered[update_id])

    async def wait_confirmed(self, update_id: int, timeout: float = 10.0) -> None:
        """Wait until the bot has handled `update_id` (it asked for the updates after it)."""
        deadline = time.monotonic() + timeout
        while self.confirmed <= update_id:
            if time.monotonic() > deadline:
                raise AssertionError(f"update {update_id} was not handled in {timeout} s")
            await asyncio.sleep(0.01)


class Phone:
    """One family's Telegram app: write, press buttons, read what the bot sent."""

    def __init__(self, api: FakeBotAPI, user_id: int, language_code: str | None = "sv") -> None:
        self.api, self.user_id, self.language_code = api, user_id, language_code
        self.last_update = 0

    def _user(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.user_id, "is_bot": False, "first_name": "Parent"}
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def message_update(self, text: str) -> dict[str, Any]:
        message = {
            "message_id": next(self.api._message_ids),
            "date": int(time.time()),
            "chat": {"id": self.user_id, "type": "private", "first_name": "Parent"},
            "from": self._user(),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return {"message": message}

    async def say(self, text: str) -> int:
        self.last_update = await self.api.push(self.message_update(text))
        return self.last_update

    def press_update(self, data: str, message: Sent) -> dict[str, Any]:
        return {
            "callback_query": {
                "id": f"cq{next(self.api._ids)}",
                "from": self._user(),
                "chat_instance": "ci",
                "data": data,
                "message": message.as_message(),
            }
        }

    async def press(self, label: str, message: Sent | None = None) -> int:
        """Press the button labelled `label` on `message` (default: the newest with buttons)."""
        message = message or self.keyboard_message
        assert message is not None, "no message with buttons"
        data = next((d for text, d in message.buttons if text == label), None)
        assert data is not None, f"no button {label!r} in {[t for t, _ in message.buttons]}"
        self.last_update = await self.api.push(self.press_update(data, message))
        return self.last_update

    @property
    def inbox(self) -> list[Sent]:
        return self.api.chats.get(self.user_id, [])

    @property
    def texts(self) -> list[str]:
        return [m.text or "" for m in self.inbox]

    @property
    def keyboard_message(self) -> Sent | None:
        return next((m for m in reversed(self.inbox) if m.keyboard), None)

    @property
    def buttons(self) -> list[str]:
        message = self.keyboard_message
        return [label for label, _ in message.buttons] if message else []
