"""The fast case reader (msgspec structs generated from the pydantic models) against the
precise one (the models): same results on valid cases, and never more lenient.

A case the fast reader refuses is read again precisely, so "stricter" only costs
time; "more lenient" would score an invalid case, and must never happen.
"""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lbp_assess.batch.score import with_follow_up
from lbp_assess.model.case import FACTS, fast_convert, fast_json, validate_case
from lbp_assess.base.errors import InputError

from helpers import EXAMPLES, examples
from generated import RULESET, SETTINGS, cases


def precise(data):
    try:
        return validate_case(data, "precise")
    except InputError:
        return None


@pytest.mark.slow
@settings(SETTINGS, max_examples=examples(300))
@given(cases())
def test_valid_cases_give_the_same_row_both_ways(data):
    struct = fast_convert(data)
    assert struct is not None and fast_json(orjson.dumps(data)) is not None
    fast_row = RULESET.row_from_data(struct, "f")
    exact = precise(data)
    exact_row = with_follow_up(RULESET.assess(exact).to_row("f"), exact)
    assert fast_row == exact_row


BAD_VALUES = ["yes", "no", 1, 0, 1.5, -1, 11, 200, 17.0, "rigth", [], {}, [1, 2], True, "", "x" * 100,
              float("nan"), float("inf"), "2026-13-40", ["sitting", "nonsense"]]


@st.composite
def corrupted(draw):
    data = draw(cases())
    choice = draw(st.integers(0, 5))
    if choice == 0:  # a wrong value in a fact
        path = draw(st.sampled_from(sorted(FACTS)))
        section, name = path.split(".")
        data.setdefault(section, {})[name] = draw(st.sampled_from(BAD_VALUES))
    elif choice == 1:  # an unknown key, at the top or in a section
        section = draw(st.sampled_from([None, "pain", "cauda_equina", "history"]))
        (data if section is None else data.setdefault(section, {}))["saddle_numness"] = True
    elif choice == 2:  # the case-level fields
        key = draw(st.sampled_from(["format", "id", "assessed_on", "expected", "notes"]))
        data[key] = draw(st.sampled_from(BAD_VALUES + ["lbp-case/2", None, {"classification": "sciatica"}]))
    elif choice == 3:  # a section of the wrong type
        data[draw(st.sampled_from(["pain", "neuro", "psychosocial"]))] = draw(st.sampled_from([[], "x", 3]))
    elif choice == 4:  # STarT Back answers out of shape
        data["psychosocial"] = {"start_back": draw(st.sampled_from([[2] * 9, [1] * 8, [0] * 8 + [5], [1] * 10]))}
    else:  # a control character, separator or bidi override in a text, the vignette's quotes included
        bad = draw(st.sampled_from(["\x1b[31m", "\x00", "\x7f", "\x85", "\u2028", "\u202e", "\u2066", "\ud800"]))
        where = draw(st.sampled_from(["assessor", "notes", "vignette_mentions", "mentions_key", "vignette",
                                      "carried_over", "expected_conditions"]))
        text = f"I'm {bad}64"
        if where == "carried_over":  # a list of texts: one item among clean ones
            data["follow_up_of"] = {"id": "earlier", "carried_over": ["pain.leg_side", text, "onset.mode"]}
        elif where == "expected_conditions":
            data["expected"] = {"conditions": ["cauda_equina", text]}
        elif where == "notes":
            data["notes"] = {"presenting": text}
        elif where == "vignette_mentions":
            data["vignette_mentions"] = {"patient.sex": "a man", "patient.age": text}
        elif where == "mentions_key":  # a mapping's keys are not checked by the case model: nor here
            data["vignette_mentions"] = {f"patient.{bad}age": "64"}
        else:
            data[where] = text
    return data


@pytest.mark.slow
@settings(SETTINGS, max_examples=examples(600))
@given(corrupted())
def test_the_fast_reader_is_never_more_lenient(data):
    exact = precise(data)
    fast = fast_convert(data)
    if exact is None:
        assert fast is None, "the fast reader accepted a case the case model refuses"
    elif fast is not None:
        assert RULESET.row_from_data(fast, "f") == with_follow_up(RULESET.assess(exact).to_row("f"), exact)
    try:
        text = json.dumps(data, allow_nan=True)
    except ValueError:
        return
    if exact is None:
        assert fast_json(text.encode()) is None


@pytest.mark.parametrize("bad", ["\x1b[2J", "\x7f", "\x85", "\u202e"])
def test_a_vignette_quote_holding_a_control_character_is_refused_by_score_as_by_the_case_model(cli, tmp_path, bad):
    # The fast reader once left a mapping's values unchecked: `score` of JSON Lines scored a case
    # whose vignette quote held an escape sequence, which `note` and `explain` refuse.
    good = {"format": "lbp-case/1", "id": "q0", "vignette": "I'm 64.", "vignette_mentions": {"patient.age": "I'm 64"}}
    data = {**good, "id": "q1", "vignette_mentions": {"patient.age": f"I'm {bad}64"}}
    assert precise(data) is None and fast_convert(data) is None
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8")
    run = cli("score", str(path), "-f", "jsonl")
    assert run.code == 1, run
    rows = [json.loads(line) for line in run.out.splitlines()]
    assert [r["id"] for r in rows] == ["q0", None] and rows[0]["error"] is None
    assert "vignette_mentions" in rows[1]["error"] and "control character" in rows[1]["error"], rows[1]


@pytest.mark.parametrize("bad", ["\x1b[2J", "\x85", "\u2028", "\u202e", "\ud800"])
@pytest.mark.parametrize("field", ["carried_over", "conditions"])
def test_a_list_of_texts_with_a_control_character_is_refused_by_the_fast_reader(field, bad):
    # Lists of texts (question ids carried over, expected conditions) are checked as one joined
    # text first, each item only when that is not printable: the item among clean ones is found.
    items = ["pain.leg_side", f"neuro.{bad}weakness", "onset.mode"]
    section = {"id": "earlier", "carried_over": items} if field == "carried_over" else {"conditions": items}
    data = {"format": "lbp-case/1", "id": "a", "follow_up_of" if field == "carried_over" else "expected": section}
    assert precise(data) is None
    assert fast_convert(data) is None
    assert fast_json(json.dumps(data).encode()) is None and fast_json(json.dumps(data, ensure_ascii=False)
                                                                      .encode("utf-8", "surrogatepass")) is None
    clean = {**data, ("follow_up_of" if field == "carried_over" else "expected"):
             {**section, field: [items[0], items[2]]}}
    assert precise(clean) is not None and fast_convert(clean) is not None


@pytest.mark.parametrize("digest", ["sha256:" + "A" * 64, "sha256:" + "a" * 63, "sha256:" + "a" * 63 + "g",
                                    "sha256:" + "a" * 64 + "\n", "sha1:" + "a" * 64, "sha256:" + "٣" * 64])
def test_a_malformed_file_hash_is_refused_by_both_readers(digest):
    data = {"format": "lbp-case/1", "id": "a", "follow_up_of": {"id": "earlier", "file_hash": digest}}
    assert precise(data) is None and fast_convert(data) is None
    good = {**data, "follow_up_of": {"id": "earlier", "file_hash": "sha256:" + "0123456789abcdef" * 4}}
    assert precise(good) is not None and fast_convert(good) is not None


def test_a_case_only_the_precise_reader_accepts_is_still_scored(cli, tmp_path):
    path = tmp_path / "datetime.json"  # pydantic reads a midnight datetime as a date; msgspec does not
    data = json.loads(json.dumps({"format": "lbp-case/1", "id": "dt", "assessed_on": "2026-11-21T00:00:00",
                                  "cauda_equina": {"saddle_numbness": True}}))
    path.write_text(json.dumps(data))
    assert fast_convert(data) is None and precise(data) is not None
    row = json.loads(cli("score", str(path)).out)
    assert row["error"] is None and row["urgency"] == "emergency"


def test_every_example_reads_the_same_both_ways():
    from lbp_assess.inputs.cases import load_case

    for path in sorted(EXAMPLES.rglob("*.yaml")):
        case = load_case(path)
        struct = fast_convert(case.model_dump(mode="json", exclude_unset=True))
        assert RULESET.row_from_data(struct, "f") == with_follow_up(RULESET.assess(case).to_row("f"), case), path


def test_a_case_over_the_value_limit_is_refused_by_score_whatever_the_file(cli, tmp_path):
    # 19,996 texts in a list: more values than a case file may hold. `score` of the same case as
    # .json refused it; as a JSON Lines line or a .yaml file the fast reader scored it.
    line = b'{"format":"lbp-case/1","id":"a","expected":{"conditions":[' + b",".join([b'""'] * 19_996) + b']}}'
    assert fast_json(line) is None
    for name in ("c.jsonl", "c.json", "c.yaml"):
        (tmp_path / name).write_bytes(line + b"\n")
        run = cli("score", str(tmp_path / name), "-f", "jsonl", "-q")
        (row,) = [json.loads(text) for text in run.out.splitlines()]
        assert run.code == 1 and "more than 20,000 values" in row["error"], (name, row)


@pytest.mark.parametrize("tagged", ["!!set {aching: null}", "!!omap [{aching: null}]", "!!pairs [{aching: null}]",
                                    "!!binary YWNoaW5n", "!!timestamp 2026-01-01"])
def test_yaml_types_that_are_not_plain_data_are_refused_where_they_stand_by_every_command(cli, tmp_path, tagged):
    # msgspec takes a set (or the pairs of an ordered map) for a list: before, `score` scored a
    # `!!set` of pain qualities that the case model refuses. The reader now refuses the tag itself,
    # so every command says the same, at its line and column.
    path = tmp_path / "tagged.yaml"
    path.write_text(f"format: lbp-case/1\nid: a\npain:\n  quality: {tagged}\n")
    tag = tagged.split()[0]
    expected = f"{path}:4:12: unsupported YAML tag '{tag}': only plain data is allowed"
    run = cli("score", str(path), "-f", "jsonl", "-q")
    (row,) = [json.loads(text) for text in run.out.splitlines()]
    assert run.code == 1 and row["error"] == expected, row
    note = cli("note", str(path))
    assert note.code == 1 and expected in note.err
