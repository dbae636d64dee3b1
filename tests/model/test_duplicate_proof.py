"""Issue 21: the fast JSON reader proves that no key is given twice by counting colons (model.case.
fast_json). Whatever a line holds - nulls, colons and quotes in its texts, escapes, a time with or
without a colon in its offset, blanks anywhere - it accepts a line exactly when the exact reading
(json with object_pairs_hook) finds no key given twice; and it reads the ordinary lines without
that second reading.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from lbp_assess.inputs.cases import load_case
from lbp_assess.model import case as case_module
from lbp_assess.model.case import fast_json
from tests.helpers import examples

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BASE = load_case(EXAMPLES / "cases" / "radicular-l5.yaml").to_data()
TEXTS = ["plain", "10:30 pain", ': null', '":', 'a": null', "null", "x\\u003ay", "caf\u00e9: n", ":" * 5, ""]
TIMES = ["2026-11-21T10:30:00Z", "2026-11-21T10:30:00+01:00", "2026-11-21T10:30:00+0100",
         "2026-11-21T10:30:00.25-05:30", "2026-11-21T10:30:00+00:00", "2026-11-21 10:30:00z"]
SEPARATORS = [(",", ":"), (", ", ": "), (" ,", " : "), (",\t", "\t:\t"), (",\n", "\n:\n")]


def _escaped(text: str) -> str:
    r"""JSON text with every colon inside strings written \u003a (a legal spelling of a colon)."""
    out, inside, escape = [], False, False
    for ch in text:
        if inside and ch == ":":
            out.append("\\u003a")
            continue
        out.append(ch)
        if escape:
            escape = False
        elif ch == "\\":
            escape = True
        elif ch == '"':
            inside = not inside
    return "".join(out)


@st.composite
def lines(draw) -> tuple[bytes, bool]:
    """(a JSON Lines case, whether it gives a key twice): nulls, texts with colons and quotes, a
    time, blanks and escapes, and perhaps a key given twice (null or not, either way round)."""
    data = json.loads(json.dumps(BASE))
    data.pop("assessed_on", None)
    data["notes"] = {"presenting": draw(st.sampled_from(TEXTS)), "pmh": draw(st.sampled_from(TEXTS))}
    if draw(st.booleans()):
        data["assessed_at"] = draw(st.sampled_from(TIMES))
    for _ in range(draw(st.integers(0, 3))):  # keys given as null
        section = draw(st.sampled_from(["pain", "neuro", "history", "notes"]))
        name = draw(st.sampled_from(sorted(case_module.FACTS if section != "notes" else ["sh", "dh", "goals"])))
        if name.startswith(section + "."):
            name = name.split(".", 1)[1]
        if "." not in name and (section == "notes" or f"{section}.{name}" in case_module.FACTS):
            data.setdefault(section, {})[name] = None
    if draw(st.booleans()):
        data["vignette_mentions"] = {"pain.leg_nrs": draw(st.sampled_from(TEXTS))}
    comma, colon = draw(st.sampled_from(SEPARATORS))
    text = json.dumps(data, separators=(comma, colon), ensure_ascii=draw(st.booleans()))
    twice = draw(st.booleans())
    if twice:
        section = draw(st.sampled_from([None, "pain", "neuro", "notes"]))
        holder = data if section is None else data[section]
        key = draw(st.sampled_from(sorted(k for k in holder if k != "format")))
        value = draw(st.sampled_from([None, holder[key], "x: y" if isinstance(holder[key], str) else holder[key]]))
        inner = json.dumps({key: value}, separators=(comma, colon))[1:-1]
        if draw(st.booleans()):  # the extra one first or last
            inner, at = comma + inner, None
        else:
            inner, at = inner + comma, 0
        if section is None:
            text = text[:-1] + inner + "}" if at is None else "{" + inner + text[1:]
        else:
            start = text.index(f'"{section}"')
            brace = text.index("{", start)
            end = text.index("}", brace)
            text = text[:end] + inner + text[end:] if at is None else text[:brace + 1] + inner + text[brace + 1:]
    if draw(st.booleans()):
        text = _escaped(text)
    return text.encode(), twice


def _exact_has_twice(raw: bytes) -> bool:
    seen = []

    def hook(pairs):
        keys = [k for k, _ in pairs]
        seen.append(len(keys) != len(set(keys)))
        return dict(pairs)

    json.loads(raw, object_pairs_hook=hook)
    return any(seen)


@settings(max_examples=examples(600), deadline=None, derandomize=True)
@given(lines())
def test_the_fast_reader_accepts_a_line_exactly_when_no_key_is_given_twice(line):
    raw, twice = line
    assert _exact_has_twice(raw) == twice, raw
    assert (fast_json(raw) is None) == twice, raw


@pytest.mark.parametrize("raw", [
    b'{"format":"lbp-case/1","id":"x","neuro":{"weakness":null,"weakness":null}}',
    b'{"format":"lbp-case/1","id":"x","neuro":{"weakness":null,"weakness":true}}',
    b'{"format":"lbp-case/1","id":"x","neuro":{"weakness":true,"weakness":null}}',
    b'{"format":"lbp-case/1","id":"x","pain":null,"pain":{"leg_nrs":3}}',
    b'{"format":"lbp-case/1","id":"x","notes":{"pmh":": null"},"neuro":{"weakness":true,"weakness":true}}',
    b'{"format":"lbp-case/1","id":"x","notes":{"pmh":"a\\": null"},"neuro":{"weakness":true,"weakness":true}}',
    b'{"format":"lbp-case/1","id":"x","assessed_at":"2026-11-21T10:30:00+0100","id":"y"}',
    b'{"format":"lbp-case/1","id":"x","assessed_at":"2026-11-21T10\\u003a30:00Z","id":"y"}',
    b'{"format":"lbp-case/1","id":"a\\u003ab","id":"y"}',
    b'{"format":"lbp-case/1","id":"x","assessor":"assessed_at","assessed_at":"2026-11-21T10:30:00Z","id":"y"}',
])
def test_keys_given_twice_are_refused_whatever_the_nulls_escapes_and_times(raw):
    assert _exact_has_twice(raw)
    assert fast_json(raw) is None


def test_ordinary_lines_are_proved_without_reading_them_again(monkeypatch):
    """Nulls, colons in texts and a time with its offset: still no second (json) reading."""
    def refuse(*args, **kwargs):
        raise AssertionError("read again")

    monkeypatch.setattr(case_module.json, "loads", refuse)
    data = dict(BASE, assessed_at="2026-11-21T10:30:00+01:00", assessed_on="2026-11-21")
    data["notes"] = {"presenting": "Pain: 6/10 since 09:00", "pmh": None}
    data["neuro"] = dict(data.get("neuro") or {}, weakness=None)
    for separators in ((",", ":"), (", ", ": ")):
        raw = json.dumps(data, separators=separators).encode()
        assert fast_json(raw) is not None, raw
