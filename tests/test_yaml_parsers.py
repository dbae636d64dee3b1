"""The fast YAML path (yaml-rs) and the reference (PyYAML, YAML 1.2 resolvers) read every
example, rule file and generated case to the same data."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from lbp_assess import yamlio
from lbp_assess.yamlio import load_yaml, load_yaml_reference

from helpers import EXAMPLES, RULES
from test_properties import SETTINGS, cases

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
        on_fast_path += not yamlio._unusual(text)
    assert on_fast_path >= len(FILES) * 0.8  # the comparison really exercises yaml-rs


@settings(SETTINGS, max_examples=200)
@given(cases())
def test_generated_cases_read_the_same_both_ways(data):
    for style in (False, None):  # block and flow styles
        text = yaml.safe_dump(data, sort_keys=False, default_flow_style=style)
        assert not yamlio._unusual(text)
        assert fast(text) == load_yaml_reference(text, "generated") == data


SCALARS = ["yes", "no", "on", "off", "true", "False", "TRUE", "046", "0x1F", "0o17", "1:30", "1_000", "2026-11-21",
           "12:30:00", "~", "null", "Null", "", ".inf", "-.inf", "1e3", "+12", "-0", "0.5", "'quoted'", "\"x\""]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(SCALARS), min_size=1, max_size=6))
def test_plain_scalars_resolve_as_yaml_12_core_both_ways(values):
    text = "".join(f"k{i}: {v}\n" for i, v in enumerate(values))
    assert fast(text) == load_yaml_reference(text, "scalars")


def test_the_fast_path_leaves_tags_and_documents_to_pypaml():
    assert yamlio._unusual("a: !!python/object/apply:os.system [ls]")
    assert yamlio._unusual("a: 1\n---\nb: 2\n")
    assert not yamlio._unusual("a: 1\nb: text with - dashes\n")
    assert load_yaml("a: 1\nb: [x, y]\n", "f") == {"a": 1, "b": ["x", "y"]}
