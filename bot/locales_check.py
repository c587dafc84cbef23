"""`hjulet locales check`: are the catalogs complete, correct and plain? One line per catalog.

Checks every catalog of every offered language against the template: each message translated, not
fuzzy, with the msgid's placeholders; plural messages with as many forms as Babel's rule for the
language; no message over Telegram's 4096 characters once formatted. Plain-language floors for
what families read: Swedish LIX <= 30 over all text and <= 40 for any message of 10 words or more;
English Flesch reading ease >= 70; no sentence over 15 words in Swedish and English (in other
languages, where grammar spreads a thought over more words, over 20). It also lists the catalogs
that no native speaker has reviewed yet (their header says so).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from bot.i18n import BABEL_CODES
from bot.readability import Flesch, Lix, flesch, lix, sentence_lengths
from flows.glossary import TERMS

PLACEHOLDER = re.compile(r"\{(\w*)\}")
BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
TELEGRAM_LIMIT = 4096
LIX_TOTAL, LIX_MESSAGE, FLESCH_MIN = 30.0, 40.0, 70.0
SENTENCE_WORDS = {"sv": 15, "en": 15}
SENTENCE_WORDS_OTHER = 20
UNREVIEWED = "Review: unreviewed"


@dataclass
class Report:
    domain: str
    lang: str
    messages: int = 0
    words: int = 0
    problems: list[str] = field(default_factory=list)
    lix: Lix | None = None
    flesch: Flesch | None = None
    longest_sentence: int = 0
    reviewed: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def _strings(message: Message) -> list[str]:
    return [s for s in (message.string if isinstance(message.string, tuple) else (message.string,)) if s]


def _ids(message: Message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def check_catalog(path: Path, template: Catalog, domain: str, lang: str, family: bool) -> Report:
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=BABEL_CODES.get(lang, lang), domain=domain)
    report = Report(domain, lang, reviewed=UNREVIEWED not in (catalog.header_comment or ""))
    if catalog.fuzzy:
        report.problems.append("the header is marked fuzzy (pybabel compile would skip the catalog)")
    forms = catalog.num_plurals  # from the header's Plural-Forms, which Babel writes from CLDR's rules
    wanted = {m.id: m for m in template if m.id}
    have = {m.id: m for m in catalog if m.id}
    for key, source in wanted.items():
        message = have.get(key)
        shown = _ids(source)[0][:50]
        strings = _strings(message) if message is not None else []
        if message is None or not strings or (isinstance(message.string, tuple) and len(strings) != forms):
            report.problems.append(f"untranslated: {shown!r}" if message is None or not strings else
                                   f"plural {shown!r}: {len(strings)} forms, {lang} has {forms}")  # fmt: skip
            continue
        if message.fuzzy:
            report.problems.append(f"fuzzy: {shown!r}")
        expected = sorted(PLACEHOLDER.findall(_ids(source)[-1]))
        for string in strings:
            if sorted(PLACEHOLDER.findall(string)) != expected:
                report.problems.append(f"placeholders differ: {shown!r}")
            if BIDI_CONTROLS.search(string):
                report.problems.append(f"direction marks in the text (the program adds isolation): {shown!r}")
            if len(string) > TELEGRAM_LIMIT - 200:
                report.problems.append(f"too long for one Telegram message: {shown!r}")
        report.messages += 1
        if family:
            _measure(report, strings, lang)
    if family:
        _floors(report, lang)
    return report


def _measure(report: Report, strings: Iterable[str], lang: str) -> None:
    for string in strings:
        lengths = sentence_lengths(string)
        report.words += sum(lengths)
        report.longest_sentence = max([report.longest_sentence, *lengths])
        if lang == "sv":
            measured = lix(string)
            report.lix = measured if report.lix is None else report.lix + measured
            if measured.words >= 10 and measured.value > LIX_MESSAGE:
                report.problems.append(f"LIX {measured.value:.0f} > {LIX_MESSAGE:.0f}: {string[:50]!r}")
        if lang == "en":
            measured_flesch = flesch(string)
            report.flesch = measured_flesch if report.flesch is None else report.flesch + measured_flesch
        limit = SENTENCE_WORDS.get(lang, SENTENCE_WORDS_OTHER)
        if lengths and max(lengths) > limit:
            report.problems.append(f"a sentence of {max(lengths)} words (max {limit}): {string[:50]!r}")


def _floors(report: Report, lang: str) -> None:
    if lang == "sv" and report.lix is not None and report.lix.value > LIX_TOTAL:
        report.problems.append(f"LIX {report.lix.value:.1f} over all family text (max {LIX_TOTAL:.0f})")
    if lang == "en" and report.flesch is not None and report.flesch.value < FLESCH_MIN:
        report.problems.append(f"Flesch {report.flesch.value:.1f} (min {FLESCH_MIN:.0f})")


def check_all(
    locales: Path, templates: dict[str, Catalog], languages: dict[str, Iterable[str]]
) -> list[Report]:
    reports = []
    for domain, template in templates.items():
        for lang in languages[domain]:
            path = locales / lang / "LC_MESSAGES" / f"{domain}.po"
            if not path.exists():
                missing = Report(domain, lang)
                missing.problems.append(f"no catalog at {path}")
                reports.append(missing)
                continue
            reports.append(check_catalog(path, template, domain, lang, family=domain == "family"))
    for report in reports:
        if report.domain != "family" and report.lang in languages.get("family", ()):
            report.problems.extend(glossary_differences(locales, report.lang, report.domain))
    return reports


def glossary_differences(locales: Path, lang: str, domain: str) -> list[str]:
    """Glossary texts that `domain`'s catalog translates otherwise than the family catalog does:
    the common language means one wording for everyone."""
    catalogs = {}
    for name in ("family", domain):
        with (locales / lang / "LC_MESSAGES" / f"{name}.po").open("rb") as handle:
            catalogs[name] = read_po(handle, locale=BABEL_CODES.get(lang, lang), domain=name)
    problems = []
    for term in TERMS.values():
        for text in (term.name, term.definition):
            ours, theirs = catalogs[domain].get(text), catalogs["family"].get(text)
            if ours is None or theirs is None or ours.string != theirs.string:
                problems.append(f"glossary text differs from family.po: {text[:50]!r}")
    return problems


def table(reports: list[Report]) -> str:
    lines = [
        f"{'catalog':<14}{'messages':>9}{'words':>7}{'LIX':>7}{'Flesch':>8}{'longest':>9}  reviewed  result"
    ]
    for r in reports:
        lix_text = f"{r.lix.value:.1f}" if r.lix else "—"
        flesch_text = f"{r.flesch.value:.1f}" if r.flesch else "—"
        result = "ok" if r.ok else f"{len(r.problems)} problem(s)"
        lines.append(
            f"{r.lang + '/' + r.domain:<14}{r.messages:>9}{r.words:>7}{lix_text:>7}{flesch_text:>8}"
            f"{r.longest_sentence:>9}  {'yes' if r.reviewed else 'NO':<8}  {result}"
        )
    return "\n".join(lines)
