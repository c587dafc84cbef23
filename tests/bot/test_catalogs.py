"""Every message a family or a professional reads exists, complete, in every catalog."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.i18n import FSI, PDI, Catalogs
from bot.locales_tool import DOMAINS, LOCALES, template
from bot.readability import lix, lix_total
from flows.events import Msg
from flows.loader import load_flows

PLACEHOLDER = re.compile(r"\{(\w*)\}")
CATALOGS = [(domain, lang) for domain, spec in DOMAINS.items() for lang in spec["languages"]]  # type: ignore[attr-defined]


def catalog(domain: str, lang: str):
    with open(LOCALES / lang / "LC_MESSAGES" / f"{domain}.po", "rb") as fh:
        return read_po(fh, locale=lang, domain=domain)


def flow_message_ids() -> set[str]:
    ids: set[str] = set()
    for flow in load_flows().values():
        if flow.comment_prompt:
            ids.add(flow.comment_prompt)
        for step in flow.steps:
            ids.update(t for t in (step.text, step.explain, step.comment) if t)
            ids.update(choice.label for choice in step.choices)
    return ids


@pytest.fixture(scope="module")
def templates():
    return {domain: template(domain) for domain in DOMAINS}


def test_extraction_sees_every_message_the_flows_use(templates) -> None:
    extracted = {m.id for m in templates["family"] if m.id}
    assert flow_message_ids() <= extracted


@pytest.mark.parametrize(("domain", "lang"), CATALOGS)
def test_catalog_is_complete_and_up_to_date(templates, domain: str, lang: str) -> None:
    po = catalog(domain, lang)
    assert not po.fuzzy, f"{lang}/{domain}.po has a fuzzy header: `pybabel compile` would skip it"
    wanted = {m.id for m in templates[domain] if m.id}
    have = {m.id: m for m in po if m.id}
    missing = sorted(wanted - set(have))
    assert not missing, f"run `make locales`: {missing[:3]}"
    for message_id in wanted:
        message = have[message_id]
        assert message.string, f"{lang}/{domain}.po: no translation for {message_id!r}"
        assert not message.fuzzy, f"{lang}/{domain}.po: fuzzy {message_id!r}"
        assert sorted(PLACEHOLDER.findall(message.id)) == sorted(PLACEHOLDER.findall(message.string)), (
            message_id
        )
        assert (
            "\u2068" not in message.string and "\u2066" not in message.string
        )  # isolation is the renderer's job


def test_swedish_family_text_is_plain() -> None:
    texts = [m.string for m in catalog("family", "sv") if m.id]
    total = lix_total(texts)
    assert total.value < 30, f"LIX {total.value:.1f} over {total.words} words"
    hard = [(t, lix(t).value) for t in texts if lix(t).words >= 10 and lix(t).value > 40]
    assert not hard, hard


def test_messages_render_in_the_families_languages() -> None:
    catalogs = Catalogs(LOCALES)
    question = Msg("How does your child sleep?")
    rendered = {lang: catalogs.render(question, lang) for lang in ("sv", "en", "ar")}
    assert rendered["en"] == "How does your child sleep?"
    assert len(set(rendered.values())) == 3
    assert re.search(r"[\u0600-\u06FF]", rendered["ar"])


def test_arabic_isolates_a_latin_name_and_numbers() -> None:
    catalogs = Catalogs(LOCALES)
    text = catalogs.render(Msg("Your child's name: {name}.", {"name": "Ali"}), "ar")
    assert f"{FSI}Ali{PDI}" in text
    phones = catalogs.render(
        Msg(
            "Do you need help now? Call {phone_1177} for health advice. "
            "Children can call BRIS on {phone_bris}. In an emergency, call {phone_emergency}.",
            {"phone_1177": "1177", "phone_bris": "116 111", "phone_emergency": "112"},
        ),
        "ar",
    )
    assert f"{FSI}116 111{PDI}" in phones and f"{FSI}112{PDI}" in phones
    swedish = catalogs.render(Msg("Your child's name: {name}.", {"name": "Ali"}), "sv")
    assert FSI not in swedish  # left-to-right text needs no marks


def test_a_missing_catalog_falls_back_to_english(tmp_path: Path) -> None:
    catalogs = Catalogs(tmp_path)
    assert catalogs.render(Msg("How does your child sleep?"), "sv") == "How does your child sleep?"
