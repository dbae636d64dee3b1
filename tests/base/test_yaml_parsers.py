"""The fast YAML path (yaml-rs) and the reference (PyYAML, YAML 1.2 resolvers) read every
example, rule file and generated case to the same data."""

from __future__ import annotations

import yaml
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lbp_assess.base import yamlio
from lbp_assess.base.errors import InputError
from lbp_assess.base.yamlio import load_yaml, load_yaml_reference

from helpers import EXAMPLES, RULES, examples
from generated import SETTINGS, cases

FILES = sorted(EXAMPLES.rglob("*.yaml")) + sorted(RULES.rglob("*.yaml"))


def fast(text: str):
    """The fast path as scoring uses it: yaml-rs unless the text is routed to PyYAML."""
    assert yamlio.yaml_rs is not None
    return load_yaml(text, "fast")


def test_every_shipped_yaml_file_reads_the_same_both_ways():
    on_fast_path = 0
    for path in FILES:
        text = path.read_text()
        assert fast(text) == load_yaml_reference(text, str(path)), path
        on_fast_path += not yamlio.unusual(text)
    assert on_fast_path >= len(FILES) * 0.8  # the comparison really exercises yaml-rs


@pytest.mark.slow
@settings(SETTINGS, max_examples=examples(200))
@given(cases())
def test_generated_cases_read_the_same_both_ways(data):
    for style in (False, None):  # block and flow styles
        text = yaml.safe_dump(data, sort_keys=False, default_flow_style=style)
        assert not yamlio.unusual(text)
        assert fast(text) == load_yaml_reference(text, "generated") == data


SCALARS = ["yes", "no", "on", "off", "true", "False", "TRUE", "046", "0x1F", "0o17", "1:30", "1_000", "2026-11-21",
           "12:30:00", "~", "null", "Null", "", "1e3", "+12", "-0", "0.5", "'quoted'", "\"x\"",
           # numbers in other notations, which YAML 1.2 core reads as text (yaml-rs as numbers)
           "0b101000", "0B1", "+0x10", "-0x1", "-0o10", "+0o7", "0X1F", "0O17", "0x_1", "1__0", "1_000.5",
           # the largest whole numbers allowed, and long digit runs in text
           "9" * 20, "-" + "9" * 20, "0x" + "f" * 20, "'" + "9" * 30 + "'", "a" + "0" * 30]


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.sampled_from(SCALARS), min_size=1, max_size=6))
def test_plain_scalars_resolve_as_yaml_12_core_both_ways(values):
    text = "".join(f"k{i}: {v}\n" for i, v in enumerate(values))
    assert fast(text) == load_yaml_reference(text, "scalars")


@pytest.mark.parametrize("number", [".inf", "-.Inf", ".NaN", ".nan", "1e999", "-1e400"])
def test_non_finite_numbers_are_refused_at_their_place_by_both_parsers(number):
    text = f"format: lbp-case/1\nid: x\nrule:\n  limit: {number}\n"
    for read in (fast, lambda t: load_yaml_reference(t, "fast")):
        with pytest.raises(InputError, match=r"^fast:4:10: not a finite number"):
            read(text)


def test_the_fast_path_leaves_tags_and_documents_to_pypaml():
    assert yamlio.unusual("a: !!python/object/apply:os.system [ls]")
    assert yamlio.unusual("a: 1\n---\nb: 2\n")
    assert not yamlio.unusual("a: 1\nb: text with - dashes\n")
    assert load_yaml("a: 1\nb: [x, y]\n", "f") == {"a": 1, "b": ["x", "y"]}


#: Words that may be read as text, a tag, an anchor, a complex key or a number, depending on where
#: they stand: inside a word (`a != b`, `over_50`, `why?`) or where a node begins (`!x`, `&a`, `? `).
WORDS = ["a", "key", "over_50", "x_1", "1_0", "_1", "+_1", ".5_0", "0x_1", "a != b", "!=", "why?", "(?!", "!", "!x",
         "!!str", "?", "? x", "&a", "*a", "&a!x", "a&b", "2*3", "-", "- x", "'q'", '"q"', "1", "2.5", "true", "null",
         "é", "１", "a-1_0"]


@settings(max_examples=examples(400), deadline=None)
@given(st.lists(st.tuples(st.lists(st.sampled_from(WORDS), min_size=1, max_size=5),
                          st.sampled_from(["value", "flow", "item", "key"])), min_size=1, max_size=5))
def test_text_left_to_yaml_rs_is_read_as_pyyaml_reads_it(entries):
    """`unusual` may leave a `!`, `?`, `&` or a digit with an underscore to yaml-rs only where both
    parsers read it alike: a tag, anchor, alias, complex key or number is never read differently."""
    lines = []
    for i, (words, place) in enumerate(entries):
        text = " ".join(words)
        lines.append({"value": f"k{i}: {text}", "flow": f"k{i}: [{', '.join(words)}]",
                      "item": f"k{i}:\n  - {text}", "key": f"{text}: {i}"}[place])
    text = "\n".join(lines) + "\n"
    if yamlio.unusual(text):
        return
    try:
        read_fast = yamlio.yaml_rs.loads(text, parse_datetime=False)
    except Exception:  # noqa: BLE001 - yaml-rs refuses it: PyYAML reads it, as load_yaml does
        return
    assert load_yaml_reference(text, "words") == read_fast, text


def test_text_that_only_looks_like_yaml_syntax_stays_on_the_fast_path():
    """The shipped rules use `!=`, ask questions, name ages (`over_50`) and share a label (`&name`,
    `*name`): all on the fast path, while the same characters where a node begins, and anchors with
    names the parsers end differently, are left to PyYAML."""
    for text in ["when: a != b\n", "text: Which leg?\n", "id: weak_flag_age_over_50\n", "k: R&D, 2*3\n",
                 "k: \"(?!x)\"\n", "a: &shared_label Text\nb: *shared_label\n"]:
        assert not yamlio.unusual(text), text
    for text in ["k: !x 1\n", "- !x 1\n", "k: &a !x 1\n", "k: &a!x\n", "k: [a, !x b]\n", "{k: !x}\n", "? a\n: b\n",
                 "k: [a, ? b]\n", "k: *a?\n", "a: &x 1\nb: &x 2\n", "k: [*a, b]\n", "k: 1_000\n", "k: _1\n", "k: +_1\n", "k: x\r!y z\n", "k:\t!x\n"]:
        assert yamlio.unusual(text), text


@pytest.mark.parametrize("text", [
    "k: " + "9" * 21 + "\n", "k: 0x" + "f" * 4000 + "\n", "k: -" + "1" * 5000 + "\n",
    "? [a]\n: 1\n", "? {a: 1}\n: 1\n# !\n", "[a]: 1\n",
    "- " * 5000 + "x\n", "".join(" " * i + "k:\n" for i in range(200)),
])
def test_hostile_forms_are_refused_the_same_way_both_ways(text):
    messages = []
    for read in (fast, lambda t: load_yaml_reference(t, "fast")):
        with pytest.raises(InputError) as caught:
            read(text)
        messages.append(str(caught.value))
    assert "fast" in messages[0] and "Traceback" not in messages[0]
    if "[a]: 1" not in text:  # yaml-rs reads that key as a tuple: refused, without a position
        assert messages[0] == messages[1]


def test_a_place_in_a_file_is_found_when_read_and_is_an_ordinary_location():
    """The rules loader records where every rule was written without parsing for positions (only a
    problem, explain or the rules doc reads them): the place found later is the one PyYAML gives."""
    import pickle

    from lbp_assess.base.errors import Location

    text = "rules:\n  - id: a\n    when: pain.leg_nrs >= 7\n"
    place = yamlio.Locator(text).place("r.yaml", ("rules", 0, "when"))
    assert (place.line, place.col) == (3, 11) == yamlio.Locator(text).find(("rules", 0, "when"))
    assert place == Location("r.yaml", 3, 11) and hash(place) == hash(Location("r.yaml", 3, 11))
    assert str(place) == "r.yaml:3:11" and {place, Location("r.yaml", 3, 11)} == {place}
    copied = pickle.loads(pickle.dumps(yamlio.Locator(text).place("r.yaml", ("rules", 0), key=False)))
    assert type(copied) is Location and copied == Location("r.yaml", 2, 5)
    assert yamlio.Locator("a: [").place("bad.yaml", ("a",)) == Location("bad.yaml")  # unparsable: the file


@pytest.mark.parametrize("text", [
    # a tag after an anchor right after a flow indicator
    "[&a !x a]", "{&a !x k: v}", '{"a":&a !x b}', "[a,&a !x b]", '[&a !<tag:yaml.org,2002:int> "5"]',
    "[&a !!binary aGk=]", "- [&a !x a]", "[&a\t!x a]",
    # an underscore beside a dot or in a hexadecimal number
    "_.5", "1._", "+_.9", "9._e0", "0xa_b", "0x_a", "0xf_", "__.1", "-_.5", "0xa_b: 1",
    # a mapping as a key (a frozenset to yaml-rs), directly or through an alias
    "{a: 1}: x", "x: &a\n  b: 1\n*a : c", "a: &x {b: 1}\nc: {*x : 1}", "k:\n  {a: 1}: x", "[{a: 1}: x]",
    # a recursive alias (null to yaml-rs)
    "a: &x [1, *x ]", "a: &x\n  b: *x\n", "&x {a: *x }", "- &x\n  - *x\n",
    # a non-finite number as a key
    ".inf: x", ".nan: x", "1e400: x", "{.NaN: 1}", "-.Inf: x",
    # documents after a lone carriage return
    "a: 1\r---\rb: 2", "a\r--- b", "a: 1\r...\rb",
])
def test_texts_an_outside_review_found_read_alike_on_both_paths(text):
    """Each was read differently by yaml-rs (the fast path) and PyYAML; now both read it alike or both
    refuse it (routed to PyYAML by `unusual`, or refused by `check_size`)."""
    def read(how):
        try:
            return "ok", how(text)
        except InputError:
            return ("refused",)
    assert read(lambda t: load_yaml(t, "t")) == read(lambda t: load_yaml_reference(t, "t"))




# The pieces of YAML where node properties, anchors and line breaks meet: every line break either
# parser knows, the indicators, blanks and names.
_PROPERTY_TEXT = st.text(st.sampled_from(list("!?&*:-,[]{}|> \t\n\r\x85\u2028\u2029#'\"ab1_")), max_size=60)


@settings(max_examples=examples(2000), deadline=None)
@given(_PROPERTY_TEXT)
def test_searching_only_the_lines_that_hold_an_indicator_finds_what_searching_all_finds(text):
    # `unusual` searches only the lines holding one of ! ? & * (most of a rule file holds none):
    # a faster search that must route exactly the same texts to PyYAML.
    whole = yamlio.NODE_PROPERTY.search(text) is not None
    assert (yamlio.NODE_PROPERTY.search(yamlio.lines_with(text, "!?&*")) is not None) == whole
    assert yamlio.ANCHOR.findall(yamlio.lines_with(text, "&")) == yamlio.ANCHOR.findall(text)
