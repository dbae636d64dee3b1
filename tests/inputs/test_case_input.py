"""Reading case files: every kind of bad input gets a one-line message with file, line and
field, a non-zero exit, and never a traceback; good input reads exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lbp_assess.model.case import FACTS
from lbp_assess.inputs.cases import load_case
from lbp_assess.base.errors import InputError

GOOD = """\
format: lbp-case/1
id: t1
patient:
  age: 46
  sex: female
cauda_equina:
  saddle_numbness: false
"""


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(InputError) as info:
        load_case(path)
    message = str(info.value)
    assert "\n" not in message, "errors are one line"
    return message


def test_good_case_reads_three_valued_facts(tmp_path):
    case = load_case(write(tmp_path, "c.yaml", GOOD))
    assert case.patient.age == 46
    assert case.cauda_equina.saddle_numbness is False
    assert case.cauda_equina.urinary_retention is None  # not asked is not "no"


@pytest.mark.parametrize("name,content,expected", [
    ("syntax.yaml", "format: lbp-case/1\nid: x\npatient: [1, 2\n",
     "syntax.yaml:4:1: YAML syntax error: did not find expected ',' or ']'"),
    ("noformat.yaml", "id: x\n", "noformat.yaml: missing `format: lbp-case/1`; is this an lbp-assess case file?"),
    ("wrongformat.yaml", "format: lbp-case/2\nid: x\n",
     "wrongformat.yaml:1:9: format: format 'lbp-case/2' is not supported; expected 'lbp-case/1'"),
    ("child.yaml", "format: lbp-case/1\nid: x\npatient:\n  age: 12\n",
     "child.yaml:4:8: patient.age: lbp-assess is for adults: age must be 16 or over (got 12)"),
    ("typo.yaml", "format: lbp-case/1\nid: x\ncauda_equina:\n  saddle_numness: true\n",
     "typo.yaml:4:3: cauda_equina.saddle_numness: unknown field `saddle_numness` "
     "(did you mean `saddle_numbness`?)"),
    ("enum.yaml", "format: lbp-case/1\nid: x\npain:\n  leg_side: rigth\n",
     "enum.yaml:4:13: pain.leg_side: 'rigth' is not allowed; expected one of: none, left, right, both, "
     "alternating (did you mean `right`?)"),
    ("yes.yaml", "format: lbp-case/1\nid: x\ncauda_equina:\n  saddle_numbness: yes\n",
     "yes.yaml:4:20: cauda_equina.saddle_numbness: expected true or false (or null when not asked), got 'yes'"),
    ("empty.yaml", "", "empty.yaml: empty file, expected an lbp-case/1 case"),
    ("list.yaml", "- 1\n- 2\n", "list.yaml: expected a mapping of case fields, got a list"),
    ("two.yaml", "format: lbp-case/1\nid: x\n---\nformat: lbp-case/1\nid: y\n",
     "two.yaml:3:1: more than one YAML document; one case per file (use .jsonl for many)"),
    ("nrs.yaml", "format: lbp-case/1\nid: x\npain:\n  back_nrs: 11\n",
     "nrs.yaml:4:13: pain.back_nrs: 11 is out of range: must be <= 10"),
    ("json.json", '{"format": "lbp-case/1",\n "id": "x",\n "patient": {"age": "46"}}',
     "json.json:3:21: patient.age: expected a whole number, got '46'"),
    ("badjson.json", '{"format": "lbp-case/1", "id": }', "badjson.json:1:32: JSON syntax error: Expecting value"),
    ("startback.yaml", "format: lbp-case/1\nid: x\npsychosocial:\n  start_back: [1, 0, 2, 0, 0, 0, 0, 0, 0]\n",
     "startback.yaml:4:15: psychosocial.start_back: STarT Back item 3 must be 0..1, got 2"),
])
def test_bad_input_messages(tmp_path, name, content, expected):
    assert error_of(write(tmp_path, name, content)) == f"{tmp_path}/{expected}"


def test_python_tag_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = write(tmp_path, "evil.yaml",
                 f"format: lbp-case/1\nid: !!python/object/apply:os.system ['touch {marker}']\n")
    message = error_of(path)
    assert "evil.yaml:2:5: unsupported YAML tag '!!python/object/apply:os.system'" in message
    assert not marker.exists()


def test_non_utf8_bytes(tmp_path):
    message = error_of(write(tmp_path, "latin.yaml", "format: lbp-case/1\nid: caf\xe9\n".encode("latin-1")))
    assert "latin.yaml:2:8: not UTF-8 text: byte 0xe9 cannot be decoded" in message


def test_binary_data(tmp_path):
    message = error_of(write(tmp_path, "blob.yaml", bytes(range(256))))
    assert "blob.yaml:1:1: binary data (NUL bytes), expected YAML or JSON text" in message


def test_file_over_the_size_limit(tmp_path):
    message = error_of(write(tmp_path, "big.yaml", "format: lbp-case/1\nid: x\nvignette: " + "a" * 1_100_000))
    assert "big.yaml: file is 1,100,035 bytes; case and rule files are limited to 1,000,000" in message


def test_deeply_nested_yaml_is_refused_before_parsing(tmp_path):
    # libyaml would crash the process on this; the depth check refuses it first.
    message = error_of(write(tmp_path, "deep.yaml", "a: " + "[" * 200_000 + "]" * 200_000))
    assert "deep.yaml: nesting is deeper than 32 levels; not a case or rule file" in message


def test_deep_block_nesting_is_refused(tmp_path):
    message = error_of(write(tmp_path, "deep2.yaml", "a:\n" + "".join("  " * i + "- \n" for i in range(1, 60))))
    assert "deep2.yaml: nesting is deeper than 32 levels" in message


def test_alias_bomb_is_refused(tmp_path):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    message = error_of(write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n"))
    assert "bomb.yaml: more than 20,000 values once YAML aliases are expanded" in message


def test_a_huge_json_file_is_refused_without_talk_of_yaml_aliases(tmp_path):
    import json

    message = error_of(write(tmp_path, "huge.json", json.dumps({"format": "lbp-case/1", "id": "h", "x": [0] * 25_000})))
    assert message.endswith("huge.json: more than 20,000 values; not a case, rule or form file"), message


def test_missing_file(tmp_path):
    assert error_of(tmp_path / "nope.yaml").endswith("nope.yaml: no such file")


def test_every_spec_field_is_in_the_vocabulary():
    # The contract names these; renaming any of them is a breaking change.
    for path in ("patient.age", "pain.leg_extent", "onset.fracture_excluded", "behaviour.night_pain",
                 "walking.relief_standing_still", "neuro.foot_drop", "cauda_equina.onset_days",
                 "systemic.night_sweats", "history.vascular_disease", "progression.course",
                 "psychosocial.start_back"):
        assert path in FACTS
    assert FACTS["pain.leg_side"].values == ("none", "left", "right", "both", "alternating")
    assert FACTS["behaviour.aggravated_by"].kind == "set"


def test_json_and_yaml_read_to_the_same_case(tmp_path):
    yaml_case = load_case(write(tmp_path, "a.yaml", GOOD))
    json_case = load_case(write(tmp_path, "a.json", json.dumps(yaml_case.to_data())))
    assert yaml_case == json_case
