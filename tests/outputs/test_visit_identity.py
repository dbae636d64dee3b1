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
    note = " ".join(cli("note", str(second), "--previous", str(first), "-f", "text").out.split())
    assert f"The previous case file {first} has changed since this follow-up was recorded" in note
    markdown = cli("note", str(second), "--previous", str(first)).out  # the file name as typed, not Markdown
    assert f"The previous case file {str(first).replace('_', chr(92) + '_')} has changed" in markdown


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


def _refused_by_every_reader(cli, tmp_path, case_id: str, in_row: str, in_note: str) -> None:
    """A case with `case_id` as its id, and one with it as follow_up_of.id, each as JSON and JSON Lines
    (the fast path): every row is an error saying `in_row`, and `note` refuses the JSON one."""
    for data in ({"format": "lbp-case/1", "id": case_id},
                 {"format": "lbp-case/1", "id": "later", "follow_up_of": {"id": case_id}}):
        (tmp_path / "c.json").write_text(json.dumps(data))
        (tmp_path / "c.jsonl").write_text(json.dumps(data) + "\n")
        run = cli("score", str(tmp_path), "-f", "jsonl", "-q")
        rows = [json.loads(line) for line in run.out.splitlines()]
        assert run.code == 1 and len(rows) == 2 and all(in_row in r["error"] for r in rows), rows
        refused(cli("note", str(tmp_path / "c.json")), in_note)


@pytest.mark.parametrize("case_id", ["\uff44\uff45\uff4d\uff4f-042", "de\u0301mo", "\ufb01le-1"])
def test_a_look_alike_id_is_refused_with_its_plain_form(cli, tmp_path, case_id):
    plain_form = __import__("unicodedata").normalize("NFKC", case_id)
    _refused_by_every_reader(cli, tmp_path, case_id, f"rather than {case_id!r}",
                             f"Unicode NFKC): {plain_form!r} rather than")
    refused(cli("assess", "--answers", str(PAIR / "fu-radicular.case.yaml"), "--id", case_id, "--out",
                str(tmp_path / "out")), "Unicode NFKC")


@pytest.mark.parametrize("case_id", ["fu\u200b-ces", "a\u00adb", "\ufeffx", "x\ufe0f", "x\U000e0041", "x\u2060y", " ",
                                     " x", "x "])
def test_an_id_with_an_invisible_character_or_an_end_space_is_refused_by_every_reader(cli, tmp_path, case_id):
    """Two ids that read the same on screen are one patient's name twice: a zero-width space, soft
    hyphen, byte-order mark, variation selector, tag character or a space at either end is refused,
    on the fast path (JSON Lines) as on the precise one, in the id and in follow_up_of.id."""
    _refused_by_every_reader(cli, tmp_path, case_id, "an id must not", "an id must not")


def test_a_student_name_with_an_invisible_character_is_refused(cli, tmp_path):
    """`practice --student` and the practice records it writes: "A\u200bda" is not a second Ada."""
    run = cli("practice", "--student", "A\u200bda", "--count", "1")
    assert run.code == 2 and "a student's name must not contain the invisible" in run.err, run.err
    from lbp_assess.teach.records import read_records

    record = {"student": "A\u200bda", "answer": {"classification": "radicular", "urgency": "routine"},
              "key": {"classification": "radicular", "urgency": "routine"}, "correct": {"classification": True,
                                                                                   "urgency": True}}
    (tmp_path / "r.jsonl").write_text(json.dumps(record) + "\n" + json.dumps({**record, "student": "Ada"}) + "\n")
    records, problems = read_records([str(tmp_path / "r.jsonl")])
    assert [r.student for r in records] == ["Ada"]
    assert len(problems) == 1 and "r.jsonl:1: not a practice record: student: a name must not contain" in problems[0]


def test_the_age_must_rise_with_the_years_between_visits(cli, visits, tmp_path):
    """41 at both visits ten years apart cannot be one patient (nor 41 then 60 a fortnight later)."""
    first, second = visits
    decade = rewrite(second, tmp_path / "decade.yaml", assessed_on="2036-11-21")
    refused(cli("compare", str(first), str(decade)), "visits of different patients: age 41 here, 41 in", "3653 days")
    grown = rewrite(second, tmp_path / "grown.yaml", assessed_on="2036-11-21", patient={"age": 51})
    assert cli("compare", str(first), str(grown), "-f", "json").code == 0


def test_a_follow_up_assessed_earlier_the_same_day_is_refused(cli, visits, tmp_path):
    first, second = visits
    morning_first = rewrite(first, tmp_path / "a.yaml", assessed_on="2026-12-06",
                            assessed_at="2026-12-06T15:00+00:00")
    later = rewrite(second, tmp_path / "b.yaml", assessed_on="2026-12-06", assessed_at="2026-12-06T09:00+00:00",
                    follow_up_of={"id": "fu-radicular", "file_hash": file_hash(morning_first.read_bytes())})
    refused(cli("compare", str(morning_first), str(later)), "was assessed at 2026-12-06T09:00:00+00:00, before the "
                                                            "visit it follows")
    after = rewrite(later, tmp_path / "c.yaml", assessed_at="2026-12-06T16:30+00:00")
    assert cli("compare", str(morning_first), str(after), "-f", "json").code == 0


def test_a_series_orders_visits_on_one_day_by_their_links_not_their_file_names(cli, visits, tmp_path):
    """Two visits on one day, the later saved under the name that sorts first: in link order."""
    first, second = visits
    folder = tmp_path / "series"
    folder.mkdir()
    shutil.copy(first, folder / "z-first.yaml")
    rewrite(second, folder / "m-second.yaml", assessed_on="2026-12-06", assessed_at="2026-12-06T09:00+00:00")
    rewrite(second, folder / "a-third.yaml", id="fu-radicular-3", assessed_on="2026-12-06",
            assessed_at="2026-12-06T15:00+00:00",
            follow_up_of={"id": "fu-radicular-2026-12-05", "assessed_on": "2026-12-06",
                          "file_hash": file_hash((folder / "m-second.yaml").read_bytes())})
    run = cli("compare", "--series", str(folder), "-f", "json")
    assert run.code == 0, run.err
    assert [row["id"] for row in json.loads(run.out)] == ["fu-radicular", "fu-radicular-2026-12-05",
                                                           "fu-radicular-3"]


def test_a_previous_visit_found_by_its_hash_must_have_the_id_recorded(cli, visits, tmp_path):
    """The note finds the last visit beside the follow-up by its SHA-256; if that file is another
    case id than the one the follow-up names, it is refused as `--previous` refuses it."""
    first, second = visits
    relabelled = rewrite(second, second, follow_up_of={"id": "someone-else"})
    refused(cli("note", str(relabelled)), f"{first}: is case 'fu-radicular', but", "follows case 'someone-else'")
    refused(cli("note", str(relabelled), "--previous", str(first)), "follows case 'someone-else'")


def test_a_series_orders_one_days_visits_by_time_before_links(cli, visits, tmp_path):
    """v2 (09:00, following the first) and v3 (15:00, recorded as following nothing): by time, with
    the usual warning about v3 - not refused as a visit "before the visit it follows"."""
    first, second = visits
    folder = tmp_path / "series"
    folder.mkdir()
    shutil.copy(first, folder / "a.yaml")
    rewrite(second, folder / "b.yaml", assessed_on="2026-12-06", assessed_at="2026-12-06T09:00+00:00")
    rewrite(second, folder / "c.yaml", id="v3", assessed_on="2026-12-06", assessed_at="2026-12-06T15:00+00:00",
            follow_up_of=None)
    run = cli("compare", "--series", str(folder), "-f", "json")
    assert run.code == 0, run.err
    assert [row["id"] for row in json.loads(run.out)] == ["fu-radicular", "fu-radicular-2026-12-05", "v3"]
    assert "v3 is not recorded as a follow-up" in run.err


@pytest.mark.parametrize("middle,last,said", [
    ({"age": None}, {"age": 41}, "age 41 here, 41 in"),
    ({"sex": "not_stated", "age": None}, {"sex": "female", "age": None}, "sex female here, male in"),
])
def test_a_series_checks_each_visit_against_every_earlier_one(cli, visits, tmp_path, middle, last, said):
    """An unknown age or sex at a visit between does not hide a mismatch with the first visit."""
    first, second = visits
    folder = tmp_path / "series"
    folder.mkdir()
    shutil.copy(first, folder / "a.yaml")
    data = yaml.safe_load(second.read_text())
    data["assessed_on"] = "2030-11-21"
    data["patient"] = {k: v for k, v in {**data["patient"], **middle}.items() if v is not None}
    (folder / "b.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    patient = {**yaml.safe_load(first.read_text())["patient"], **last}
    data.update(id="v3", assessed_on="2036-11-21", patient={k: v for k, v in patient.items() if v is not None},
                follow_up_of={"id": data["id"], "file_hash": file_hash((folder / "b.yaml").read_bytes())})
    (folder / "c.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    refused(cli("compare", "--series", str(folder), "-f", "json"), "visits of different patients", said)


@pytest.mark.parametrize("case_id", ["p\u2800", "\u2800", "p\u1680", "\u0301a", "\u0410nn"])
def test_ids_that_look_like_others_are_refused(cli, tmp_path, case_id):
    """A Braille blank, an Ogham space at the end, a lone combining mark, Cyrillic А among Latin
    letters: each reads as another id (or none) and is refused."""
    (tmp_path / "c.json").write_text(json.dumps({"format": "lbp-case/1", "id": case_id}))
    refused(cli("note", str(tmp_path / "c.json")), "an id must not")


def test_an_empty_student_name_is_refused(cli):
    run = cli("practice", "--student", "", "--count", "1")
    assert run.code == 2 and "a student's name must not be empty" in run.err, run.err
