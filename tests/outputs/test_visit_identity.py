"""Issue 21, item 4: visit identity. `compare`, `compare --series`, `note --previous` and
`assess --follow-up` refuse visits of two patients, a visit that follows itself, cycles and a
follow-up dated before its previous visit, and warn, naming the file, when the previous visit's
file no longer has the hash the follow-up recorded. A case file itself cannot claim to follow
itself or a later visit, nor have symptoms that began before the patient was born."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from lbp_assess.outputs.visits import file_hash
from lbp_assess.engine.ruleset.load import load_rules

from helpers import EXAMPLES, RULES

RULESET = load_rules(RULES)
PAIR = EXAMPLES / "follow-up" / "improving-radicular"


@pytest.fixture
def visits(tmp_path) -> tuple[Path, Path]:
    """The improving-radicular pair, rewritten with today's rules version (and the hash to match)."""
    first, second = PAIR / "fu-radicular.case.yaml", PAIR / "fu-radicular-2026-12-05.case.yaml"

    def today(text: str) -> str:
        return re.sub(r"lbp-default \S+ sha256:[0-9a-f]{12}", RULESET.version, text)

    (tmp_path / first.name).write_text(today(first.read_text()))
    (tmp_path / second.name).write_text(today(second.read_text()).replace(
        file_hash(first.read_bytes()), file_hash((tmp_path / first.name).read_bytes())))
    return tmp_path / first.name, tmp_path / second.name


def rewrite(path: Path, target: Path, **changes) -> Path:
    """A copy of a case file with top-level fields or sections changed (None removes one)."""
    data = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        elif isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def refused(run, *words: str) -> str:
    assert run.code == 1, (run.code, run.err)
    line = run.err.strip()
    assert line.count("\n") == 0 and "Traceback" not in line, line
    for word in words:
        assert word in line, line
    return line


# --------------------------------------------------------------------------- compare OLD NEW


def test_the_pair_compares_without_warnings(cli, visits):
    run = cli("compare", *map(str, visits), "-f", "json")
    assert run.code == 0 and json.loads(run.out)["warnings"] == []


def test_compare_refuses_visits_of_two_patients(cli, visits, tmp_path):
    first, second = visits
    other_sex = rewrite(second, tmp_path / "b.yaml", patient={"sex": "female"})
    refused(cli("compare", str(first), str(other_sex)), "visits of different patients: sex female here, male in")
    younger = rewrite(second, tmp_path / "c.yaml", patient={"age": 30})
    refused(cli("compare", str(first), str(younger)), "visits of different patients: age 30 here, 41 in")
    older = rewrite(second, tmp_path / "d.yaml", patient={"age": 60})  # 14 days later
    refused(cli("compare", str(first), str(older)), "age 60 here, 41 in", "14 days before")
    birthday = rewrite(second, tmp_path / "e.yaml", patient={"age": 42})  # a birthday in between: fine
    assert cli("compare", str(first), str(birthday)).code == 0


def test_compare_refuses_a_visit_that_follows_another_case_dated_before_the_earlier_one(cli, visits, tmp_path):
    first, second = visits
    stranger = rewrite(second, tmp_path / "s.yaml", follow_up_of={"id": "someone-else", "assessed_on": "2026-01-02"})
    refused(cli("compare", str(first), str(stranger)), "is a follow-up of case someone-else (2026-01-02), not of "
            "fu-radicular")


def test_compare_refuses_a_visit_compared_with_itself(cli, visits, tmp_path):
    first, _ = visits
    refused(cli("compare", str(first), str(first)), "is the same visit as", "cannot follow itself")
    twin = tmp_path / "copy.yaml"
    shutil.copy(first, twin)
    refused(cli("compare", str(first), str(twin)), "cannot follow itself")
    same_id = rewrite(first, tmp_path / "same-id.yaml", assessed_on="2026-12-24")
    refused(cli("compare", str(first), str(same_id)), "has the id fu-radicular of the visit it follows")


def test_compare_refuses_the_visits_in_the_wrong_order(cli, visits):
    first, second = visits
    refused(cli("compare", str(second), str(first)), "is dated 2026-11-21, before the visit it follows",
            "give the earlier visit first")


def test_compare_refuses_two_visits_that_follow_each_other(cli, visits, tmp_path):
    first, second = visits
    loop = rewrite(first, tmp_path / "loop.yaml", assessed_on="2026-12-05",
                   follow_up_of={"id": "fu-radicular-2026-12-05"})
    refused(cli("compare", str(loop), str(second)), "in a cycle, or are given in the wrong order")


def test_compare_warns_naming_the_earlier_file_when_it_changed_since(cli, visits):
    first, second = visits
    first.write_text(first.read_text().replace("back_nrs: 4", "back_nrs: 5"))
    run = cli("compare", str(first), str(second), "-f", "json")
    assert run.code == 0
    assert any(f"The previous case file {first} has changed since this follow-up was recorded" in w
               for w in json.loads(run.out)["warnings"])
    note = cli("note", str(second), "--previous", str(first)).out
    assert f"The previous case file {first} has changed since this follow-up was recorded" in note


def test_compare_warns_when_the_later_visit_is_not_recorded_as_a_follow_up(cli, visits, tmp_path):
    first, second = visits
    bare = rewrite(second, tmp_path / "bare.yaml", follow_up_of=None)
    run = cli("compare", str(first), str(bare), "-f", "json")
    assert run.code == 0 and "fu-radicular-2026-12-05 is not recorded as a follow-up of an earlier visit" in \
        " ".join(json.loads(run.out)["warnings"])


def test_note_previous_refuses_another_patients_visit(cli, visits, tmp_path):
    first, second = visits
    other = rewrite(first, tmp_path / "other.yaml", patient={"sex": "female"})
    refused(cli("note", str(second), "--previous", str(other)), "visits of different patients")


# --------------------------------------------------------------------------- series


def test_series_refuses_visits_that_follow_each_other_in_a_cycle(cli, visits, tmp_path):
    first, second = visits
    folder = tmp_path / "series"
    folder.mkdir()
    rewrite(first, folder / "a.yaml", assessed_on="2026-12-05", follow_up_of={"id": "fu-radicular-2026-12-05"})
    shutil.copy(second, folder / "b.yaml")
    refused(cli("compare", "--series", str(folder), "-f", "json"), "in a cycle")


def test_series_refuses_two_patients_and_one_visit_twice(cli, visits, tmp_path):
    first, second = visits
    other = rewrite(second, tmp_path / "other.yaml", patient={"sex": "female"})
    refused(cli("compare", "--series", str(first), str(other), "-f", "json"), "visits of different patients")
    stray = rewrite(second, tmp_path / "stray.yaml", id="someone-2026-12-09", assessed_on="2026-12-09",
                    follow_up_of={"id": "someone"})
    refused(cli("compare", "--series", str(first), str(second), str(stray), "-f", "json"),
            "is a follow-up of case someone, which is not among these visits")
    twin = tmp_path / "twin.yaml"
    shutil.copy(second, twin)
    refused(cli("compare", "--series", str(first), str(second), str(twin), "-f", "json"), "the same id")


def test_series_warns_about_a_visit_not_recorded_as_a_follow_up(cli, visits, tmp_path):
    first, second = visits
    bare = rewrite(second, tmp_path / "bare.yaml", follow_up_of=None)
    run = cli("compare", "--series", str(first), str(bare), "-f", "json")
    assert run.code == 0 and f"{bare}: fu-radicular-2026-12-05 is not recorded as a follow-up" in run.err


def test_series_warns_naming_the_file_that_changed(cli, visits):
    first, second = visits
    first.write_text(first.read_text().replace("back_nrs: 4", "back_nrs: 5"))
    run = cli("compare", "--series", str(first), str(second), "-f", "json")
    assert run.code == 0 and f"The previous case file {first} has changed" in run.err


# --------------------------------------------------------------------------- assess --follow-up


def test_follow_up_refuses_answers_of_another_patient_or_of_the_same_visit(cli, visits, tmp_path):
    first, second = visits
    out = tmp_path / "out"
    other = rewrite(second, tmp_path / "other.yaml", patient={"sex": "female"}, follow_up_of=None)
    refused(cli("assess", "--follow-up", str(first), "--answers", str(other), "--out", str(out)),
            "visits of different patients")
    itself = rewrite(first, tmp_path / "itself.yaml", assessed_on="2026-12-05")
    refused(cli("assess", "--follow-up", str(first), "--answers", str(itself), "--out", str(out)),
            "cannot follow itself")
    elsewhere = rewrite(second, tmp_path / "elsewhere.yaml", follow_up_of={"id": "someone-else"})
    refused(cli("assess", "--follow-up", str(first), "--answers", str(elsewhere), "--out", str(out)),
            f"{elsewhere}: is a follow-up of case someone-else (2026-11-21), not of fu-radicular")
    assert not out.exists() or not list(out.glob("*.case.yaml"))


def test_follow_up_of_a_visit_with_its_own_answers_still_works(cli, visits, tmp_path):
    first, second = visits
    run = cli("assess", "--follow-up", str(first), "--answers", str(second), "--out", str(tmp_path / "out"),
              "--id", "fu-radicular-2026-12-06")
    assert run.code == 0, run.err


# --------------------------------------------------------------------------- the case file itself


@pytest.mark.parametrize("fields,expected", [
    ({"assessed_on": "2026-12-01", "follow_up_of": {"id": "x"}}, "follow_up_of.id: a visit cannot be a follow-up "
                                                                  "of itself"),
    ({"assessed_on": "2026-12-01", "follow_up_of": {"id": "p", "assessed_on": "2026-12-02"}},
     "follow_up_of.assessed_on: the previous visit (2026-12-02) is dated after this visit (2026-12-01)"),
    ({"patient": {"age": 30}, "cauda_equina": {"saddle_numbness": True, "onset_days": 12000}},
     "cauda_equina.onset_days: 12000 days ago is before the patient was born (age 30)"),
    ({"patient": {"age": 20}, "onset": {"weeks_ago": 2000}},
     "onset.weeks_ago: 2000 weeks ago is before the patient was born (age 20)"),
])
def test_a_case_that_cannot_be_is_refused_by_every_reader(cli, tmp_path, fields, expected):
    case = {"format": "lbp-case/1", "id": "x", **fields}
    (tmp_path / "c.json").write_text(json.dumps(case))
    (tmp_path / "c.jsonl").write_text(json.dumps(case) + "\n")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(case))
    run = cli("score", str(tmp_path), "-f", "jsonl", "-q")
    rows = [json.loads(line) for line in run.out.splitlines()]
    assert run.code == 1 and len(rows) == 3 and all(expected in row["error"] for row in rows), rows
    refused(cli("note", str(tmp_path / "c.yaml")), expected)


def test_symptoms_within_the_patients_life_are_accepted(cli, tmp_path):
    case = {"format": "lbp-case/1", "id": "x", "patient": {"age": 30}, "onset": {"weeks_ago": 1500},
            "cauda_equina": {"saddle_numbness": True, "onset_days": 3}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(case))
    assert cli("note", str(tmp_path / "c.yaml")).code == 0


def test_the_interview_refuses_symptoms_before_birth_as_they_are_typed():
    from lbp_assess.consult.interview import Interview

    interview = Interview(RULESET)
    refused = interview.prefill({"patient.age": 20, "onset.weeks_ago": 2000, "cauda_equina.onset_days": 3})
    assert refused == {"onset.weeks_ago": "2000 weeks ago is before the patient was born (age 20)"}
