"""Extract message ids, update the catalogs, and fill the English source catalog.

    python -m bot.locales_tool update      (what `make locales` runs)

Domains: `family` (all a family reads: flow files and texts marked N_) and `staff`
(all professionals read: texts marked S_ and concern rule labels).
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.i18n import BABEL_CODES
from bot.settings import SUPPORTED_LANGUAGES as FAMILY_LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
SOURCES = ("flows", "nlu", "bot", "storage", "backend")
DOMAINS: dict[str, dict[str, object]] = {
    "family": {
        "keywords": {"N_": None, "_": None, "G_": None, "NP_": (1, 2)},
        "flow_domain": "family",
        "languages": FAMILY_LANGUAGES,
    },
    "staff": {"keywords": {"S_": None, "G_": None}, "flow_domain": "staff", "languages": ("sv", "en")},
}
HEADER = "Hjulet {domain} messages. Message ids are the English source text."


def template(domain: str) -> Catalog:
    spec = DOMAINS[domain]
    catalog = Catalog(project="Hjulet", version="1", header_comment=f"# {HEADER.format(domain=domain)}")
    method_map = [("**.yaml", "hjulet_flow"), ("**.py", "python")]
    options_map = {"**.yaml": {"domain": str(spec["flow_domain"])}}
    for source in SOURCES:
        if not (ROOT / source).is_dir():
            continue
        if source == "backend":
            method_map = [("**.html", "jinja2"), ("**.py", "python")]
        elif source != "flows":
            method_map = [("**.py", "python")]
        found = extract_from_dir(
            str(ROOT / source),
            method_map=method_map,
            options_map=options_map,
            keywords=spec["keywords"],  # type: ignore[arg-type]
            comment_tags=("TRANSLATORS:",),
            strip_comment_tags=True,
        )
        for filename, lineno, message, comments, context in found:
            if isinstance(message, tuple) and (len(message) != 2 or None in message):
                message = message[0]
            catalog.add(
                message,
                locations=[(f"{source}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return catalog


def update() -> None:
    for domain, spec in DOMAINS.items():
        pot = template(domain)
        with open(LOCALES / f"{domain}.pot", "wb") as out:
            write_po(out, pot, width=100, omit_header=False)
        for lang in spec["languages"]:  # type: ignore[attr-defined]
            path = LOCALES / lang / "LC_MESSAGES" / f"{domain}.po"
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                with open(path, "rb") as fh:
                    catalog = read_po(fh, locale=BABEL_CODES.get(lang, lang), domain=domain)
                # the header's language decides the plural forms: Babel's (CLDR's) name for our code
                catalog.locale = BABEL_CODES.get(lang, lang)  # type: ignore[assignment]
            else:
                catalog = Catalog(
                    locale=BABEL_CODES.get(lang, lang), domain=domain, project="Hjulet", version="1"
                )
                catalog.header_comment = "# Review: unreviewed (new catalog; nobody has translated it yet)"
            catalog.update(copy.deepcopy(pot), no_fuzzy_matching=True, update_header_comment=False)
            catalog.fuzzy = False  # Babel marks new catalogs fuzzy, and `pybabel compile` skips those
            if lang == "en":  # the source language: msgstr is the msgid
                for message in catalog:
                    if message.id and isinstance(message.id, tuple) and not all(message.string):
                        message.string = message.id[:2]
                    elif message.id and not message.string:
                        message.string = message.id
            with open(path, "wb") as out:
                write_po(out, catalog, width=100, ignore_obsolete=True)
            missing = sum(1 for m in catalog if m.id and not m.string)
            print(f"{domain:7} {lang}: {len(pot)} messages, {missing} untranslated")


def main(argv: list[str]) -> int:
    if argv[1:] == ["update"]:
        update()
        return 0
    print("usage: python -m bot.locales_tool update", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
