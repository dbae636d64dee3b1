"""Reading a QuestionnaireResponse: nested items, answers the Questionnaire does not define, and status.

FHIR lets a response nest items two ways: a group's items in `item.item`, and items under an answer
in `answer.item` (form renderers write both). A red-flag answer in either place is read like any other;
a "yes" to saddle numbness is never dropped because of where a renderer put it.
"""

from __future__ import annotations

import json

import pytest

from lbp_assess.interop import fhir
from lbp_assess.inputs.cases import load_case, validate_any

from lbp_assess.base.errors import InputError
from lbp_assess.engine.ruleset.load import load_rules

from helpers import EXAMPLES, RULES, make_case

RULESET = load_rules(RULES)
SADDLE_YES = {"linkId": "cauda_equina.saddle_numbness", "answer": [{"valueBoolean": True}]}


def response_of(case) -> dict:
    return fhir.questionnaire_response(case, RULESET)


def base_response() -> dict:
    """The radicular L5 example (a full cauda equina screen, all "no") with saddle numbness left out."""
    case = load_case(EXAMPLES / "cases" / "radicular-l5.yaml")
    response = response_of(case)
    _remove(response, "cauda_equina.saddle_numbness")
    return response


def _remove(node: dict, link: str) -> None:
    node["item"] = [i for i in node.get("item", []) if i["linkId"] != link]
    for child in node["item"]:
        _remove(child, link)


def _find(node: dict, link: str) -> dict:
    for child in node.get("item", []):
        if child["linkId"] == link:
            return child
        try:
            return _find(child, link)
        except KeyError:
            pass
    raise KeyError(link)


def nested_in_group(response: dict) -> dict:
    """The saddle answer in a sub-group of the special questions group (item.item of item.item)."""
    _find(response, "special")["item"].append({"linkId": "special", "item": [SADDLE_YES]})
    return response


def nested_under_answer(response: dict) -> dict:
    """The saddle answer under the answer to urinary retention (answer.item)."""
    retention = _find(response, "cauda_equina.urinary_retention")
    retention["answer"][0]["item"] = [SADDLE_YES]
    return response


def nested_under_question(response: dict) -> dict:
    """The saddle answer as a child item of the urinary retention question (item.item)."""
    _find(response, "cauda_equina.urinary_retention")["item"] = [SADDLE_YES]
    return response


def deep_under_answers(response: dict) -> dict:
    """Several levels: answer.item inside item.item inside answer.item."""
    retention = _find(response, "cauda_equina.urinary_retention")
    retention["answer"][0]["item"] = [{"linkId": "cauda_equina.bladder_sensation_reduced",
                                       "answer": [{"valueBoolean": False}],
                                       "item": [{"linkId": "cauda_equina.bowel_incontinence",
                                                 "answer": [{"valueBoolean": False, "item": [SADDLE_YES]}]}]}]
    for link in ("cauda_equina.bladder_sensation_reduced", "cauda_equina.bowel_incontinence"):
        _remove_top(response, link)
    return response


def _remove_top(response: dict, link: str) -> None:
    group = _find(response, "special")
    group["item"] = [i for i in group["item"] if i["linkId"] != link]


SHAPES = [nested_in_group, nested_under_answer, nested_under_question, deep_under_answers]


def test_the_base_response_is_radicular_with_saddle_numbness_unscreened():
    case = validate_any(base_response(), "response.json")
    a = RULESET.assess(case)
    assert case.cauda_equina.saddle_numbness is None
    assert a.urgency != "emergency" and "cauda_equina.saddle_numbness" in a.unscreened


@pytest.mark.parametrize("shape", SHAPES, ids=lambda f: f.__name__)
def test_a_saddle_numbness_yes_nested_anywhere_is_read_and_raises_the_emergency(shape, cli, tmp_path):
    """Regression (#21): a "yes" inside item.item or answer.item scored as radicular/routine."""
    response = shape(base_response())
    case = validate_any(response, "response.json")
    assert case.cauda_equina.saddle_numbness is True
    a = RULESET.assess(case)
    assert a.urgency == "emergency" and "cauda_equina" in a.conditions
    path = tmp_path / "response.json"
    path.write_text(json.dumps(response, indent=1))
    scored = cli("score", str(path), "-f", "json", "-j", "1", "-q")
    row = json.loads(scored.out)[0]
    assert row["urgency"] == "emergency" and "cauda_equina" in row["conditions"], scored.out
    note = cli("note", str(path), "-f", "text")
    assert note.code == 0 and "RED FLAG" in note.out and "Saddle numbness" in note.out


@pytest.mark.parametrize("where", ["answer", "item"])
def test_an_undefined_link_id_nested_anywhere_is_a_located_error(where):
    response = base_response()
    retention = _find(response, "cauda_equina.urinary_retention")
    stray = [{"linkId": "cauda_equina.saddle_numbnes", "answer": [{"valueBoolean": True}]}]
    if where == "answer":
        retention["answer"][0]["item"] = stray
    else:
        retention["item"] = stray
    text = json.dumps(response, indent=1)
    with pytest.raises(InputError) as err:
        validate_any(response, "response.json", text)
    message = str(err.value)
    assert "unknown linkId `cauda_equina.saddle_numbnes`" in message and "did you mean" in message
    line = message.split(":")[1]
    assert line.isdigit() and '"cauda_equina.saddle_numbnes"' in text.splitlines()[int(line) - 1]


def test_an_answer_given_twice_at_different_depths_is_refused():
    response = nested_under_answer(base_response())
    _find(response, "special")["item"].append({"linkId": "cauda_equina.saddle_numbness",
                                                    "answer": [{"valueBoolean": False}]})
    with pytest.raises(InputError, match="answered twice"):
        validate_any(response, "response.json")


def test_a_display_or_group_item_nested_under_an_answer_takes_no_answer():
    response = base_response()
    retention = _find(response, "cauda_equina.urinary_retention")
    retention["answer"][0]["item"] = [{"linkId": "special", "answer": [{"valueBoolean": True}]}]
    with pytest.raises(InputError, match="group or display item; it takes no answer"):
        validate_any(response, "response.json")


def test_nested_items_must_be_a_list_of_items():
    response = base_response()
    _find(response, "cauda_equina.urinary_retention")["answer"][0]["item"] = {"linkId": "x"}
    with pytest.raises(InputError, match="expected a list of items"):
        validate_any(response, "response.json")


# --------------------------------------------------------------------------- status


@pytest.mark.parametrize("status", ["entered-in-error"])
def test_an_entered_in_error_response_is_refused(status, cli, tmp_path):
    response = dict(nested_under_answer(base_response()), status=status)
    path = tmp_path / "response.json"
    path.write_text(json.dumps(response, indent=1))
    run = cli("score", str(path), "-f", "json", "-j", "1", "-q")
    assert run.code == 1
    error = json.loads(run.out)[0]["error"]
    assert "entered-in-error" in error and error.startswith(f"{path}:")


@pytest.mark.parametrize("status", [None, "draft", 3])
def test_a_missing_or_unknown_status_is_refused(status):
    response = base_response()
    if status is None:
        del response["status"]
    else:
        response["status"] = status
    with pytest.raises(InputError, match="status"):
        validate_any(response, "response.json")


def test_an_in_progress_response_is_scored_with_a_warning_saying_so(cli, tmp_path):
    response = dict(nested_under_answer(base_response()), status="in-progress")
    path = tmp_path / "response.json"
    path.write_text(json.dumps(response, indent=1))
    run = cli("score", str(path), "-f", "json", "-j", "1", "-q")
    row = json.loads(run.out)[0]
    assert row["urgency"] == "emergency"
    assert any("in-progress" in w for w in row["warnings"]), row["warnings"]
    note = cli("note", str(path), "-f", "text")
    assert "in-progress" in note.out
    completed = dict(response, status="completed")
    assert not RULESET.assess(validate_any(completed, "r.json")).warnings


@pytest.mark.parametrize("status", ["in-progress", "stopped"])
def test_an_unfinished_form_is_exported_unfinished_so_its_warning_survives_the_round_trip(cli, tmp_path, status):
    """`export` wrote a form saved in progress as `completed` (and its Composition `final`): read
    back, the warning that answers may be missing was gone from every output."""
    response = dict(nested_under_answer(base_response()), status=status)
    form, exported = tmp_path / "form.json", tmp_path / "bundle.json"
    form.write_text(json.dumps(response))
    assert cli("export", str(form), "-o", str(exported)).code == 0
    entries = {e["resource"]["resourceType"]: e["resource"] for e in json.loads(exported.read_text())["entry"]}
    assert entries["QuestionnaireResponse"]["status"] == status
    assert entries["Composition"]["status"] == "preliminary"
    rows = [json.loads(cli("score", str(path), "-f", "jsonl", "-q").out) for path in (form, exported)]
    assert rows[0]["urgency"] == rows[1]["urgency"] == "emergency"
    assert rows[0]["warnings"] == rows[1]["warnings"] and status in rows[1]["warnings"][0], rows
    finished = tmp_path / "finished.json"
    finished.write_text(json.dumps(dict(response, status="completed")))
    assert cli("export", str(finished), "-o", str(tmp_path / "final.json")).code == 0
    entries = {e["resource"]["resourceType"]: e["resource"]
               for e in json.loads((tmp_path / "final.json").read_text())["entry"]}
    assert (entries["QuestionnaireResponse"]["status"], entries["Composition"]["status"]) == ("completed", "final")


def test_amended_and_completed_responses_score_without_a_warning():
    for status in ("completed", "amended"):
        response = dict(base_response(), status=status)
        assert not RULESET.assess(validate_any(response, "r.json")).warnings


def test_the_shipped_sample_response_still_reads():
    assert load_case(EXAMPLES / "fhir" / "radicular-l5.response.json").pain.root_level == "L5"
