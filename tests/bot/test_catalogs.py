"""Every message a family or a professional reads exists, complete, in every catalog."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.i18n import BABEL_CODES, FSI, PDI, RTL_LANGUAGES, Catalogs
from bot.locales_tool import DOMAINS, LOCALES, template
from bot.readability import lix, lix_total
from flows.events import Msg
from flows.loader import load_flows

PLACEHOLDER = re.compile(r"\{(\w*)\}")
CATALOGS = [(domain, lang) for domain, spec in DOMAINS.items() for lang in spec["languages"]]  # type: ignore[attr-defined]


def catalog(domain: str, lang: str):
    with open(LOCALES / lang / "LC_MESSAGES" / f"{domain}.po", "rb") as fh:
        return read_po(fh, locale=BABEL_CODES.get(lang, lang), domain=domain)


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
    forms = po.num_plurals  # the header's Plural-Forms, as Babel writes it for the language
    for message_id in wanted:
        message = have[message_id]
        plural = isinstance(message.id, tuple)
        strings = message.string if plural else (message.string,)
        assert all(strings), f"{lang}/{domain}.po: no translation for {message_id!r}"
        assert not message.fuzzy, f"{lang}/{domain}.po: fuzzy {message_id!r}"
        if plural:  # as many forms as Babel's plural rule for the language has
            assert len(strings) == forms, (message_id, strings)
        source = message.id[-1] if plural else message.id
        for string in strings:
            assert sorted(PLACEHOLDER.findall(source)) == sorted(PLACEHOLDER.findall(string)), message_id
            assert "\u2068" not in string and "\u2066" not in string  # isolation is the renderer's job


def test_swedish_family_text_is_plain() -> None:
    texts = [
        t
        for m in catalog("family", "sv")
        if m.id
        for t in (m.string if isinstance(m.string, tuple) else (m.string,))
    ]
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


@pytest.mark.parametrize("lang", sorted(RTL_LANGUAGES))
def test_right_to_left_text_isolates_a_latin_name(lang: str) -> None:
    text = Catalogs(LOCALES).render(Msg("Your child's name: {name}.", {"name": "Ali Hassan"}), lang)

    assert f"{FSI}Ali Hassan{PDI}" in text
    outside = text.replace(f"{FSI}Ali Hassan{PDI}", "")
    assert re.search(r"[\u0600-\u06FF]", outside) and not re.search(r"[A-Za-z]", outside)


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


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_glossary_reads_the_same_in_the_family_and_the_staff_catalogs(lang: str) -> None:
    from flows.glossary import TERMS

    family, staff = Catalogs(LOCALES, "family"), Catalogs(LOCALES, "staff")
    for term in TERMS.values():
        for text in (term.name, term.definition):
            assert staff.gettext(text, lang) == family.gettext(text, lang)
            assert lang == "en" or family.gettext(text, lang) != text  # translated, not fallen back


def test_the_check_finds_a_glossary_text_worded_otherwise_for_staff(tmp_path: Path) -> None:
    import shutil

    from bot.locales_check import glossary_differences

    for domain in ("family", "staff"):
        target = tmp_path / "sv" / "LC_MESSAGES"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(LOCALES / "sv" / "LC_MESSAGES" / f"{domain}.po", target)
    assert glossary_differences(tmp_path, "sv", "staff") == []
    staff_po = tmp_path / "sv" / "LC_MESSAGES" / "staff.po"
    staff_po.write_text(
        staff_po.read_text().replace('msgstr "Namngiven person"', 'msgstr "Barnets bästa-ansvarig"')
    )

    assert glossary_differences(tmp_path, "sv", "staff") == [
        "glossary text differs from family.po: 'Named person'"
    ]


def test_counts_take_the_plural_form_of_the_language() -> None:
    from bot.mydata import ERASED_ANSWERS, MONTHS, YEARS

    catalogs = Catalogs(LOCALES)
    assert [catalogs.render(Msg.count(YEARS, n), "sv") for n in (1, 3)] == ["1 år", "3 år"]
    assert [catalogs.render(Msg.count(MONTHS, n), "sv") for n in (1, 4)] == ["1 månad", "4 månader"]
    assert catalogs.render(Msg.count(ERASED_ANSWERS, 1), "en") == "We deleted 1 answer."
    polish = {catalogs.render(Msg.count(YEARS, n), "pl").replace(str(n), "#") for n in (1, 3, 5)}
    assert len(polish) == 3  # rok, lata, lat: Polish has three forms
    assert all(FSI + "5" + PDI in catalogs.render(Msg.count(MONTHS, 5), lang) for lang in RTL_LANGUAGES)
