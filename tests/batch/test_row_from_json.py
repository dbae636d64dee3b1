"""The per-case path of `score` over JSON Lines (issue 21): `RuleSet.row_from_json` reads a line
and scores it in one generated function, reading each fact once as it counts the line's keys. It
must give exactly what reading the line with `fast_json` and scoring it with `row_from_data` gives:
the same row, or None (the line is then read precisely, for its located message) for the same
lines - a key given twice whatever the nulls, escapes and times around it, an invalid value, a case
that cannot be - and the same row as the precise reading of the case.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from lbp_assess.engine.ruleset.load import load_rules
from lbp_assess.model.case import BIRTH_FACTS, fast_json, implausible, plain_bytes, validate_case
from lbp_assess.inputs.cases import load_case
from tests.model.test_duplicate_proof import lines as lines_with_keys_twice

from generated import SETTINGS, cases
from helpers import EXAMPLES, RULES, examples

RULESET = load_rules(RULES)
SOURCE = "cases.jsonl:7"


def both_ways(raw: bytes) -> tuple[dict | None, dict | None]:
    """(row_from_json's row, fast_json and row_from_data's), each None where the line is refused."""
    case = fast_json(raw, plain_bytes(raw))
    return (RULESET.row_from_json(raw, plain_bytes(raw), SOURCE),
            None if case is None else RULESET.row_from_data(case, SOURCE))


@settings(max_examples=examples(400), deadline=None, derandomize=True)
@given(lines_with_keys_twice())
def test_a_line_with_a_key_given_twice_is_never_scored_the_fast_way(line):
    raw, twice = line
    fused, separate = both_ways(raw)
    assert fused == separate, raw
    assert (fused is None) == twice, raw


@SETTINGS
@given(cases(), st.sampled_from([(",", ":"), (", ", ": ")]), st.booleans(), st.data())
def test_every_valid_case_gets_the_row_of_its_precise_reading(data, separators, ascii_only, draw):
    """Facts known, unknown (left out) or given as null, in any order of keys."""
    for section in [s for s in data if isinstance(data[s], dict)]:
        for name in draw.draw(st.lists(st.sampled_from(sorted(data[section])), unique=True, max_size=2)):
            data[section][name] = None  # given as null: unknown, as if left out
    raw = json.dumps(data, separators=separators, ensure_ascii=ascii_only).encode()
    fused, separate = both_ways(raw)
    assert fused is not None and fused == separate
    precise = RULESET.assess(validate_case(data, "<generated>")).to_row()
    for field in ("classification", "urgency", "condition_tiers", "alerts", "findings", "unscreened",
                  "warnings", "rules_fired", "not_excluded"):
        assert fused[field] == precise[field], field


@pytest.mark.parametrize("path", sorted((EXAMPLES / "cases").glob("*.yaml")) + sorted((EXAMPLES / "vignettes").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_every_example_gets_the_same_row_either_way(path):
    raw = json.dumps(load_case(path).to_data()).encode()
    fused, separate = both_ways(raw)
    assert fused is not None and fused == separate


@pytest.mark.parametrize("raw", [
    b'{"format":"lbp-case/1","id":"x","patient":{"age":30},"onset":{"weeks_ago":2000}}',  # before birth
    b'{"format":"lbp-case/1","id":"x","patient":{"age":30},"cauda_equina":{"onset_days":20000}}',  # so is this
    b'{"format":"lbp-case/1","id":"x","assessed_on":"2026-11-21","assessed_at":"2026-11-21T10:30:00Z",'
    b'"patient":{"age":30},"onset":{"weeks_ago":2000}}',  # before birth, with a time
    b'{"format":"lbp-case/1","id":"x","assessed_on":"2026-11-21","assessed_at":"2026-11-22T10:30:00Z"}',  # not that day
    b'{"format":"lbp-case/1","id":"x","assessed_on":"2026-01-01","follow_up_of":{"id":"y","assessed_on":"2026-02-01"}}',
    b'{"format":"lbp-case/1","id":"x","follow_up_of":{"id":"x","file_hash":"' + b"0" * 64 + b'"}}',  # itself
    b'{"format":"lbp-case/1","id":"x","assessed_at":"2026-11-21T00:00:00Z"}',  # may be a rounded time
    b'{"format":"lbp-case/1","id":"x","patient":{"age":12}}',  # not an adult
    b'{"format":"lbp-case/1","id":"x","notes":{"pmh":"a\\u0007b"}}',  # a control character
    b'{"format":"lbp-case/1","id":"x","neuro":{"weakness":"yes"}}',  # not a yes/no
    b'{"format":"lbp-case/1","id":" x"}', b'{"format":"lbp-case/1","id":"x "}',  # an id with a blank around it
    b'{"format":"lbp-case/1","id":"x","follow_up_of":{"id":"y "}}',
    b'{"format":"lbp-case/1","id":"x","assessor":"A\\u0085B"}',  # a control character, escaped (not plain)
    b'{"format":"lbp-case/1","id":"x","neuro":{"weakness":true},"neuro":{"weakness":false}}',
])
def test_a_line_the_fast_reader_refuses_is_left_to_the_precise_reading(raw):
    assert both_ways(raw) == (None, None)


def test_ordinary_lines_are_scored_without_reading_them_again(monkeypatch):
    """Sections left out, nulls, colons in texts and a time with its offset: no second (json)
    reading, so the key count of each is exact (a count too high would pass a key given twice)."""
    lines = [json.dumps(load_case(path).to_data()).encode() for path in sorted((EXAMPLES / "cases").glob("*.yaml"))]
    data = dict(load_case(EXAMPLES / "cases" / "radicular-l5.yaml").to_data(), assessed_at="2026-11-21T10:30:00+01:00",
                assessed_on="2026-11-21", notes={"presenting": "Pain: 6/10 since 09:00", "pmh": None})
    data["neuro"] = dict(data.get("neuro") or {}, weakness=None)
    lines += [json.dumps(data, separators=separators).encode() for separators in ((",", ":"), (", ", ": "))]

    def refuse(*args, **kwargs):
        raise AssertionError("read again")

    monkeypatch.setattr(json, "loads", refuse)
    for raw in lines:
        assert RULESET.row_from_json(raw, plain_bytes(raw), SOURCE) is not None, raw


def reader(wanted: dict[str, str]):
    """The generated reading on its own: the case it reads, or None."""
    from lbp_assess.model.case import json_reading

    lines, names = json_reading(wanted, "D")
    exec("def read(raw, plain):\n" + "\n".join(lines) + "\n    return D\n", names)  # noqa: S102 - the test's own
    return names["read"]


@pytest.mark.parametrize("wanted", [{}, {"patient.age": "v0", "onset.weeks_ago": "v1", "assessed_at": "v2"}],
                         ids=["facts-not-wanted", "facts-wanted"])
def test_a_case_that_cannot_be_is_refused_whichever_facts_the_rules_read(wanted):
    """The reader checks that a case can be (`_possible`) from facts it holds whether or not the
    rules read them: a rule set that never reads the age still has its cases checked."""
    read = reader(wanted)
    born = b'{"format":"lbp-case/1","id":"x","patient":{"age":30},"onset":{"weeks_ago":%d}}'
    assert read(born % 1500, True) is not None  # 29 years ago: possible at 30
    assert read(born % 1700, True) is None  # 32 years ago: before birth
    assert read(born.replace(b"onset", b"cauda_equina").replace(b"weeks_ago", b"onset_days") % 12000, True) is None
    later = b'{"format":"lbp-case/1","id":"x","assessed_on":"2026-01-01","follow_up_of":{"id":"y","assessed_on":"%s"}}'
    assert read(later % b"2025-12-01", True) is not None
    assert read(later % b"2026-02-01", True) is None


class Recorder:
    """A case whose every field is None but those given, recording the field paths read."""

    def __init__(self, given: dict, read: set[str], path: str = "") -> None:
        self.given, self.read, self.path = given, read, path

    def __getattr__(self, name: str):
        path = f"{self.path}{name}"
        self.read.add(path)
        value = self.given.get(name)
        return Recorder(value, self.read, f"{path}.") if isinstance(value, dict) else value


def test_the_reader_writes_out_every_check_of_a_case_with_no_time_and_no_earlier_visit():
    """The generated reader checks such a case with `before_birth` of BIRTH_FACTS, not with
    `implausible`: if `implausible` comes to read another fact of it, this fails (add the fact)."""
    read: set[str] = set()
    for weeks, can_be in ((1700.0, False), (10.0, True)):  # every check runs on a case that can be
        given = {"patient": {"age": 30}, "onset": {"weeks_ago": weeks}, "cauda_equina": {"onset_days": 3.0}}
        assert (implausible(Recorder(given, read)) is None) == can_be
    sections = {fact.split(".")[0] for fact in BIRTH_FACTS}
    assert read <= {"assessed_at", "follow_up_of", *sections, *BIRTH_FACTS}, read - set(BIRTH_FACTS)


def test_the_reader_reads_only_fields_into_locals():
    """A section is not a value: asking the generated reader for one is refused when the rules
    are compiled, not left as a local the generated function never sets."""
    from lbp_assess.model.case import json_reading

    with pytest.raises(ValueError, match="neuro is a section"):
        json_reading({"neuro": "v0"}, "D")
    with pytest.raises(ValueError, match="not fields of a case"):
        json_reading({"neuro.no_such_fact": "v0"}, "D")
