"""Render the engine's message ids in the user's language (Babel gettext catalogs).

Right-to-left languages get every embedded value (names, numbers, lists) wrapped
in Unicode first-strong isolates, so a Latin name or a phone number reads right.
"""

from __future__ import annotations

import io
import logging
import string
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from flows.events import Msg, Param

log = logging.getLogger(__name__)
FSI, PDI = "\u2068", "\u2069"
RTL_LANGUAGES = frozenset({"ar", "fa", "prs", "ckb"})
# Our codes that Babel (CLDR) knows by another name: Dari is Persian as written in Afghanistan;
# Kurmanji is CLDR's "ku".
BABEL_CODES = {"prs": "fa_AF", "kmr": "ku"}


# What apps and browsers call some of our languages: Kurmanji is "ku"; Croatian and Serbian readers
# get Bosnian (the same Latin-script text).
LANGUAGE_ALIASES = {"ku": "kmr", "hr": "bs", "sr": "bs"}


def offered_language(tag: str | None, offered: tuple[str, ...]) -> str | None:
    """One of the offered languages for an app's or browser's tag ('sv', 'en-US', 'ku'), if any."""
    code = (tag or "").split("-")[0].split("_")[0].strip().lower()
    code = LANGUAGE_ALIASES.get(code, code)
    return code if code in offered else None


def babel_locale(lang: str) -> Locale:
    """The Babel locale of one of our language codes."""
    return Locale.parse(BABEL_CODES.get(lang, lang))


def is_rtl(lang: str) -> bool:
    return lang in RTL_LANGUAGES


def isolate(value: str) -> str:
    return f"{FSI}{value}{PDI}"


@cache
def language_name(code: str) -> str:
    """A language's name in that language: 'svenska', 'English', 'العربية'."""
    try:
        locale = babel_locale(code)
    except (ValueError, UnknownLocaleError):  # not a language code: show it as it is
        return code
    name = locale.get_display_name(locale) or code
    return name[:1].upper() + name[1:]


class _Lenient(dict[str, str]):
    def __missing__(self, key: str) -> str:
        log.warning("message parameter %s is missing", key)
        return "{" + key + "}"


class Catalogs:
    """The gettext catalogs of one domain, loaded once per language."""

    def __init__(self, locales_dir: Path, domain: str = "family") -> None:
        self.locales_dir, self.domain = locales_dir, domain
        self._loaded: dict[str, NullTranslations] = {}

    def translations(self, lang: str) -> NullTranslations:
        if lang not in self._loaded:
            self._loaded[lang] = self._load(lang)
        return self._loaded[lang]

    def _load(self, lang: str) -> NullTranslations:
        folder = self.locales_dir / lang / "LC_MESSAGES"
        po, mo = folder / f"{self.domain}.po", folder / f"{self.domain}.mo"
        if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
            with mo.open("rb") as fh:
                return Translations(fh, domain=self.domain)
        if po.exists():  # not compiled yet (or stale): compile in memory
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=lang, domain=self.domain)
            buffer = io.BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            return Translations(buffer, domain=self.domain)
        log.warning("no %s catalog for %s; showing English", self.domain, lang)
        return NullTranslations()

    def gettext(self, message: str, lang: str) -> str:
        return self.translations(lang).gettext(message)

    def render(self, msg: Msg, lang: str) -> str:
        if msg.kind == "language":
            return language_name(msg.id)
        if msg.kind == "name":
            return msg.id
        if msg.plural is not None:
            count = msg.params.get("n", 0)
            text = self.translations(lang).ngettext(
                msg.id, msg.plural, count if isinstance(count, int) else 0
            )
        else:
            text = self.gettext(msg.id, lang)
        names = {field for _, field, _, _ in string.Formatter().parse(text) if field}
        if not names:
            return text
        values = _Lenient({name: self._param(msg.params[name], lang) for name in names if name in msg.params})
        return text.format_map(values)

    def _param(self, value: Param, lang: str) -> str:
        if isinstance(value, Msg):
            rendered = self.render(value, lang)
        elif isinstance(value, tuple):
            rendered = format_list([self.render(v, lang) for v in value], locale=babel_locale(lang))
        else:
            rendered = str(value)
        return isolate(rendered) if is_rtl(lang) else rendered

    def render_params(self, params: Mapping[str, Param], lang: str) -> dict[str, str]:
        return {k: self._param(v, lang) for k, v in params.items()}
