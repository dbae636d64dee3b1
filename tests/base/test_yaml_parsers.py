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
