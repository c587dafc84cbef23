"""Directory files: every problem is reported with its file and line; good files read back unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.demo import DEMO_FILE
from backend.directory_file import DirectoryFileError, format_directory, parse_directory, read_directory
from storage.directory import DirectoryData

HEAD = """\
municipalities:
  - code: vaxjo
    name: Växjö
    phone_social: 0470-410 00
  - code: alvesta
    name: Alvesta
units:
  - code: bvc
    name: BVC Centrum
    kind: bvc
    municipality: vaxjo
"""  # lines 1-11


def problems(text: str | bytes, fmt: str = "yaml") -> list[str]:
    raw = text.encode() if isinstance(text, str) else text
    with pytest.raises(DirectoryFileError) as caught:
        parse_directory(raw, fmt, name=f"directory.{fmt}")
    return str(caught.value).splitlines()


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        (
            "  - {code: solrosen, name: Solrosen, kind: forskola, municipality: vaxjo}\n",
            "directory.yaml:12: unit 'solrosen': unknown kind 'forskola' "
            "(choose mvc, bvc, preschool, school, kaa, social_services, coordinator)",
        ),
        (
            "  - code: solrosen\n    name: Solrosen\n    name: Solrosen 2\n    kind: preschool\n"
            "    municipality: vaxjo\n",
            "directory.yaml:14: unit 'solrosen': key 'name' is written twice (first at line 13)",
        ),
        (
            "  - {name: Solrosen, kind: preschool, municipality: vaxjo}\n",
            "directory.yaml:12: unit: 'code' is missing",
        ),
        (
            "  - {code: sol rosen, name: Solrosen, kind: preschool, municipality: vaxjo}\n",
            "directory.yaml:12: unit 'sol rosen': a code is 1-40 letters a-z, digits or _",
        ),
        (
            "  - {code: bvc, name: Again, kind: bvc, municipality: vaxjo}\n",
            "directory.yaml:12: unit 'bvc': the code is already used at line 8",
        ),
        (
            "  - {code: s, name: S, kind: school, municipality: lund}\n",
            "directory.yaml:12: unit 's': unknown municipality 'lund'",
        ),
        (
            "  - {code: s, name: S, kind: preschool, municipality: vaxjo, partner: nope}\n",
            "directory.yaml:12: unit 's': unknown partner unit 'nope'",
        ),
        (
            "  - {code: s, name: S, kind: preschool, municipality: alvesta, partner: bvc}\n",
            "directory.yaml:12: unit 's': partner 'bvc' is in another municipality",
        ),
        (
            "  - {code: s, name: S, kind: preschool, municipality: vaxjo, partner: s}\n",
            "directory.yaml:12: unit 's': a unit cannot be its own partner",
        ),
        (
            "  - code: s\n    name: S\n    kind: school\n    municipality: vaxjo\n"
            "    phone: 0470-123 456 789 012 345 678 901 234 567 89\n",
            "directory.yaml:16: unit 's': phone is too long (43 characters, at most 40)",
        ),
        (
            "  - {code: s, name: S, kind: school, municipality: vaxjo, colour: red}\n",
            "directory.yaml:12: unit 's': unknown field 'colour' "
            "(a unit has code, name, kind, municipality, partner, phone, email, office_hours)",
        ),
        (
            "  - code: s\n    name: |\n      two\n      lines\n    kind: school\n    municipality: vaxjo\n",
            "directory.yaml:13: unit 's': name must be one line of text",
        ),
        (
            "  - code: s\n    name: [a, b]\n    kind: school\n    municipality: vaxjo\n",
            "directory.yaml:13: unit 's': 'name' must be a single value, not a list or mapping",
        ),
        ("  - just a text\n", "directory.yaml:12: a unit must be written as 'field: value' lines"),
        (
            "staff:\n  - {email: anna@x.se, name: Anna, role: nurse, unit: bvc}\n",
            "directory.yaml:13: staff 'anna@x.se': unknown role 'nurse' "
            "(choose named_person, unit_lead, admin)",
        ),
        (
            "staff:\n  - {email: anna@x.se, name: Anna, role: named_person}\n",
            "directory.yaml:13: staff 'anna@x.se': a named_person needs a unit",
        ),
        (
            "staff:\n  - {email: anna@x.se, name: Anna, role: unit_lead, unit: nope}\n",
            "directory.yaml:13: staff 'anna@x.se': unknown unit 'nope'",
        ),
        (
            "staff:\n  - {email: anna.x.se, name: Anna, role: admin}\n",
            "directory.yaml:13: staff 'anna.x.se': 'anna.x.se' is not an e-mail address",
        ),
        (
            "staff:\n  - {email: Anna@X.se, name: Anna, role: admin}\n"
            "  - {email: anna@x.SE, name: Anna 2, role: admin}\n",
            "directory.yaml:14: staff 'anna@x.se': the e-mail address is already used at line 13",
        ),
        (
            "staff:\n  - {email: a@x.se, name: A, role: admin, language: no}\n",
            "directory.yaml:13: staff 'a@x.se': unknown language 'no' (choose sv, en)",
        ),
        (
            "routing:\n  - {municipality: vaxjo, min_age_months: 72, max_age_months: 71, kind: school}\n",
            "directory.yaml:13: rule for 'vaxjo': max_age_months 71 is below min_age_months 72",
        ),
        (
            "routing:\n  - {municipality: vaxjo, min_age_months: -1, max_age_months: 71, kind: bvc}\n",
            "directory.yaml:13: rule for 'vaxjo': "
            "min_age_months must be a whole number from 0 to 600, not '-1'",
        ),
        (
            "routing:\n  - {municipality: vaxjo, min_age_months: ², max_age_months: 5, kind: bvc}\n",
            "directory.yaml:13: rule for 'vaxjo': min_age_months must be a whole number from 0 to 600, "
            "not '²'",
        ),
        (
            "routing:\n  - {municipality: vaxjo, min_age_months: 0, max_age_months: fem, kind: bvc}\n",
            "directory.yaml:13: rule for 'vaxjo': "
            "max_age_months must be a whole number from 0 to 600, not 'fem'",
        ),
        (
            "routing:\n  - {municipality: vaxjo, min_age_months: 0, max_age_months: 5, kind: daycare}\n",
            "directory.yaml:13: rule for 'vaxjo': unknown kind 'daycare'",
        ),
        (
            "routing:\n  - {municipality: lund, min_age_months: 0, max_age_months: 5, kind: bvc}\n",
            "directory.yaml:13: rule for 'lund': unknown municipality 'lund'",
        ),
        (
            "routing:\n  - {municipality: vaxjo, min_age_months: 0, max_age_months: 71, kind: bvc}\n"
            "  - {municipality: alvesta, min_age_months: 60, max_age_months: 80, kind: school}\n"
            "  - {municipality: vaxjo, min_age_months: 71, max_age_months: 215, kind: school}\n",
            "directory.yaml:15: rule for 'vaxjo': "
            "71 to 215 months overlaps the rule at line 13 (0 to 71 months)",
        ),
        (
            "staf:\n  - {email: a@x.se, name: A, role: admin}\n",
            "directory.yaml:12: unknown section 'staf' (choose municipalities, units, routing, staff)",
        ),
        (
            "units:\n  - {code: s, name: S, kind: school, municipality: vaxjo}\n",
            "directory.yaml:12: section 'units' is written twice (first at line 7)",
        ),
        (
            "staff: anna@x.se\n",
            "directory.yaml:12: 'staff' must be a list of records, each starting with '- '",
        ),
        (
            "  - {code: s, name: S, kind: school, municipality: vaxjo\n",
            "directory.yaml:13: not valid YAML: expected ',' or '}', but got '<stream end>'",
        ),
    ],
)
def test_a_bad_yaml_file_names_the_line_and_the_problem(tail: str, expected: str) -> None:
    found = problems(HEAD + tail)
    assert any(line.startswith(expected) for line in found), found


def test_every_problem_is_listed_in_line_order_at_most_twenty() -> None:
    bad = "".join(f"  - {{code: u{n}, name: U, kind: nope, municipality: vaxjo}}\n" for n in range(25))
    lines = problems(HEAD + bad + "staff:\n  - {email: x, name: X, role: admin}\n")
    assert len(lines) == 21 and lines[-1] == "directory.yaml: ... and 6 more problems"
    numbers = [int(line.split(":")[1]) for line in lines[:-1]]
    assert numbers == sorted(numbers) and numbers[0] == 12


def test_a_file_that_is_empty_not_utf8_or_not_a_directory_is_a_clear_error() -> None:
    assert problems("  \n\n") == ["directory.yaml:1: the file is empty"]
    assert problems("", "csv") == ["directory.csv:1: the file is empty"]
    assert problems("type,code,name\nmunicipality,vaxjo,V\xe4xj\xf6\n".encode("latin-1"), "csv") == [
        "directory.csv:2: not UTF-8 text (byte 0xe4): save the file as UTF-8"
    ]
    assert problems("- a\n- b\n") == [
        "directory.yaml:1: expected the sections municipalities:, units:, routing:, staff:"
    ]
    assert problems("units:\n") == ["directory.yaml:1: no municipalities: a directory needs at least one"]
    with pytest.raises(DirectoryFileError, match=r"directory.txt: unknown file type '.txt'"):
        read_directory("directory.txt")
    with pytest.raises(DirectoryFileError, match=r"missing.yaml: cannot read the file \(No such file"):
        read_directory(Path("missing.yaml"))


CSV_HEAD = "type,code,name,kind,municipality,partner,email,role,unit,office_hours\nmunicipality,vaxjo,Växjö\n"


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            'unit,bvc,BVC,bvc,vaxjo,,,,,"mån–fre 8–16,\nlunch 12–13"\n'
            "unit,solrosen,Solrosen,forskola,vaxjo\n",
            "directory.csv:5: unit 'solrosen': unknown kind 'forskola'",
        ),
        (
            "unit,bvc,BVC,bvc,vaxjo,,,,,,extra\n",
            "directory.csv:3: 11 cells, but the first row names 10 columns",
        ),
        ("person,x,X\n", "directory.csv:3: unknown type 'person' (choose municipality, unit, rule, staff)"),
        ("unit,bvc,BVC,bvc,vaxjo,,,admin\n", "directory.csv:3: unit 'bvc': unknown field 'role'"),
        ("staff,,Anna,,,,anna@x.se\n", "directory.csv:3: staff 'anna@x.se': 'role' is missing"),
        (
            "unit,bvc,BVC,bvc,vaxjo\n\nunit,bvc,BVC 2,bvc,vaxjo\n",
            "directory.csv:5: unit 'bvc': the code is already used at line 3",
        ),
        ('unit,bvc,"BVC,bvc,vaxjo\n', "directory.csv:3: not valid CSV: unexpected end of data"),
    ],
)
def test_a_bad_csv_file_names_the_row_and_the_problem(rows: str, expected: str) -> None:
    found = problems(CSV_HEAD + rows, "csv")
    assert any(line.startswith(expected) for line in found), found


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("code,name", "directory.csv:1: the first row must name the columns, 'type' among them"),
        ("type,code,colour", "directory.csv:1: unknown column 'colour'"),
        ("type,code,code", "directory.csv:1: column 'code' is written twice"),
    ],
)
def test_a_bad_csv_header_is_named(header: str, expected: str) -> None:
    assert any(line.startswith(expected) for line in problems(f"{header}\nmunicipality,x,X\n", "csv"))


def test_values_are_read_as_the_text_written() -> None:
    data = parse_directory(
        (
            HEAD + "    phone: 0470 12\n    office_hours: yes\nstaff:\n"
            "  - {email: Anna.Berg@Vaxjo.SE, name: null, role: admin}\n"
            "  - {email: b@x.se, name: '007', role: admin}\n"
        )
        .replace("name: null", "name: 'null'")
        .encode(),
        "yaml",
    )
    assert data.units[0]["phone"] == "0470 12" and data.units[0]["office_hours"] == "yes"
    assert [p["email"] for p in data.staff] == ["anna.berg@vaxjo.se", "b@x.se"]
    assert [p["name"] for p in data.staff] == ["null", "007"]
    assert data.staff[0]["language"] == "sv" and data.staff[0]["unit"] is None
    assert problems(HEAD + "staff:\n  - {email: a@x.se, name: null, role: admin}\n") == [
        "directory.yaml:13: staff 'a@x.se': 'name' is missing"
    ]


def test_csv_with_a_byte_order_mark_and_windows_line_ends_is_read() -> None:
    text = "\ufefftype,code,name\r\nmunicipality,vaxjo,Växjö\r\n"
    assert parse_directory(text.encode(), "csv").municipalities[0]["name"] == "Växjö"


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_the_demo_directory_reads_back_unchanged(fmt: str) -> None:
    demo = read_directory(DEMO_FILE)
    assert len(demo.units) == 8 and len(demo.rules) == 3
    assert parse_directory(format_directory(demo, fmt).encode(), fmt) == demo


free_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40
).map(str.strip)


@settings(max_examples=150, deadline=None)
@given(name=free_text.filter(bool), phone=free_text, hours=free_text, title=free_text)
def test_any_one_line_text_survives_a_round_trip(name: str, phone: str, hours: str, title: str) -> None:
    data = DirectoryData(
        municipalities=[{"code": "m", "name": name, "phone_social": phone, "phone_socialjour": ""}],
        units=[
            {"code": "u", "name": name, "kind": "bvc", "municipality": "m", "partner": None, "phone": phone}
            | {"email": "", "office_hours": hours}
        ],
        rules=[{"municipality": "m", "min_age_months": 0, "max_age_months": 71, "kind": "bvc"}],
        staff=[
            {"email": "a@b.se", "name": name, "role": "named_person", "unit": "u", "title": title}
            | {"phone": phone, "language": "en"}
        ],
    )
    for fmt in ("yaml", "csv"):
        assert parse_directory(format_directory(data, fmt).encode(), fmt) == data
