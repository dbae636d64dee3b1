"""Unknown is not "no", across visits too. A condition raised at the last visit whose questions
were not asked at this one is NOT EXCLUDED - never "resolved" - in the comparison, the note and
the series; and a screen is INCOMPLETE in the note only for the questions every output lists as
unscreened (the rule set's `screening`)."""

from __future__ import annotations

import json

import yaml

from lbp_assess.outputs.visits import file_hash

from helpers import EXAMPLES

CES = EXAMPLES / "follow-up" / "new-ces"


def _visits(tmp_path, drop: str):
    """The new-ces follow-up (cauda equina, EMERGENCY) as the first visit, and a second visit that
    leaves out the `drop` section: its questions were not asked."""
    first = yaml.safe_load((CES / "fu-ces-2026-12-05.case.yaml").read_text())
    first.pop("follow_up_of", None)
    first.pop("expected", None)
    first.update(id="p1", assessed_on="2026-11-21")
    a = tmp_path / "a.yaml"
    a.write_text(yaml.safe_dump(first, sort_keys=False))
    second = {**first, "id": "p1-2", "assessed_on": "2026-12-05",
              "follow_up_of": {"id": "p1", "assessed_on": "2026-11-21", "file_hash": file_hash(a.read_bytes())}}
    second.pop(drop)
    b = tmp_path / "b.yaml"
    b.write_text(yaml.safe_dump(second, sort_keys=False))
    return a, b


def test_an_emergency_whose_questions_were_not_asked_again_is_not_excluded_not_resolved(cli, tmp_path):
    a, b = _visits(tmp_path, "cauda_equina")
    run = cli("compare", str(a), str(b), "-f", "json")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert data["resolved_red_flags"] == []
    assert [(f["condition"], f["was"]) for f in data["not_excluded_red_flags"]] == [("cauda_equina", "emergency")]
    assert data["not_excluded_red_flags"][0]["rules"] == ["red_flag.cauda_equina.emergency"]
    text = cli("compare", str(a), str(b), "-f", "text").out
    assert "Resolved" not in text
    assert "NOT EXCLUDED since last visit: Cauda equina syndrome (was EMERGENCY)" in " ".join(text.split())
    assert "Urgency: EMERGENCY -> ROUTINE (lower, on the answers given)." in " ".join(text.split())
    note = cli("note", str(b), "--previous", str(a), "-f", "text").out
    assert "Resolved" not in note and "NOT EXCLUDED since last visit" in " ".join(note.split())


def test_an_emergency_answered_away_is_resolved(cli, tmp_path):
    """The same follow-up with every cauda equina answer "no" does resolve it."""
    a, b = _visits(tmp_path, "cauda_equina")
    data = yaml.safe_load(b.read_text())
    data["cauda_equina"] = {name: False for name in ("urinary_retention", "bladder_sensation_reduced",
                                                     "urinary_incontinence", "bowel_incontinence", "saddle_numbness",
                                                     "sexual_dysfunction")}
    data["neuro"] = {**data.get("neuro", {}), "weakness_both_legs": False}
    b.write_text(yaml.safe_dump(data, sort_keys=False))
    out = json.loads(cli("compare", str(a), str(b), "-f", "json").out)
    assert [f["condition"] for f in out["resolved_red_flags"]] == ["cauda_equina"]
    assert out["not_excluded_red_flags"] == []


def test_the_series_marks_what_was_not_asked(cli, tmp_path, monkeypatch):
    a, b = _visits(tmp_path, "cauda_equina")
    rows = json.loads(cli("compare", "--series", str(a), str(b), "-f", "json").out)
    assert rows[1]["red_flags"] == [] and rows[1]["not_excluded_red_flags"] == ["cauda_equina:emergency"]
    assert "cauda_equina.saddle_numbness" in rows[1]["unscreened"] and rows[0]["unscreened"] == []
    csv_head = cli("compare", "--series", str(a), str(b), "-f", "csv").out.splitlines()[0].split(",")
    assert "not_excluded_red_flags" in csv_head and "unscreened" in csv_head
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    table = cli("compare", "--series", str(a), str(b), "-f", "table").out
    cells = " ".join(line.split("│")[-2].strip() for line in table.splitlines() if line.count("│") > 2)
    assert "NOT EXCLUDED Cauda equina syndrome (was emergency; not all asked)" in " ".join(cells.split())
    assert "not screened: 6 red-flag questions" in " ".join(cells.split())


def test_a_question_outside_the_screening_list_is_not_asked_not_an_incomplete_screen(cli, tmp_path):
    """Weakness in both legs belongs to the note's cauda equina group but is not a screening question
    (the policy's `red_flag_screen_incomplete`): unasked, the note names it as not asked, and neither
    the note nor score calls the screen incomplete."""
    case = yaml.safe_load((EXAMPLES / "cases" / "radicular-l5.yaml").read_text())
    case.pop("neuro")
    path = tmp_path / "no-neuro.yaml"
    path.write_text(yaml.safe_dump(case, sort_keys=False))
    row = json.loads(cli("score", str(path), "-f", "jsonl", "-q").out)
    assert row["unscreened"] == [] and "red_flag_screen_incomplete" not in row["alerts"]
    note = " ".join(cli("note", str(path), "-f", "text").out.split())
    assert "INCOMPLETE" not in note
    assert "Cauda equina screen: negative as far as asked (6 of 7 asked) (not asked: Weakness in both legs)" in note


def test_a_lower_tier_whose_higher_rule_was_not_asked_is_not_called_lower(cli, tmp_path):
    """Fever with neurological symptoms (infection, EMERGENCY) last time; this time fever again and
    the neurological questions not asked: infection is still raised (URGENT, fever alone), but the
    EMERGENCY rule is undecided - not excluded, not "lower"."""
    first = yaml.safe_load((EXAMPLES / "cases" / "radicular-l5.yaml").read_text())
    first.pop("expected", None)
    first.update(id="p1", assessed_on="2026-11-21")
    first["systemic"] = {**first.get("systemic", {}), "fever": True}
    first["neuro"] = {**first.get("neuro", {}), "numbness": True}
    a = tmp_path / "a.yaml"
    a.write_text(yaml.safe_dump(first, sort_keys=False))
    second = {**first, "id": "p1-2", "assessed_on": "2026-12-05",
              "follow_up_of": {"id": "p1", "assessed_on": "2026-11-21", "file_hash": file_hash(a.read_bytes())}}
    second.pop("neuro")
    b = tmp_path / "b.yaml"
    b.write_text(yaml.safe_dump(second, sort_keys=False))
    data = json.loads(cli("compare", str(a), str(b), "-f", "json").out)
    assert data["lower_red_flags"] == []
    (flag,) = data["not_excluded_red_flags"]
    assert (flag["condition"], flag["tier"], flag["was"]) == ("infection", "urgent", "emergency")
    assert "red_flag.infection.fever_with_neuro" in flag["rules"]
    text = " ".join(cli("compare", str(a), str(b), "-f", "text").out.split())
    assert "Lower since last visit" not in text and "EMERGENCY not excluded" in text


def _pair(tmp_path, example: str, drop: str, pid: str = "p1"):
    """An example as the first visit, and a follow-up without `drop` (section.field): not asked."""
    first = yaml.safe_load((EXAMPLES / "cases" / example).read_text())
    first.pop("expected", None)
    first.update(id=pid, assessed_on="2026-11-21")
    a = tmp_path / "a.yaml"
    a.write_text(yaml.safe_dump(first, sort_keys=False, allow_unicode=True))
    second = yaml.safe_load(a.read_text())
    section, _, name = drop.partition(".")
    second[section].pop(name)
    second.update(id="p1-2", assessed_on="2026-12-05",
                  follow_up_of={"id": pid, "assessed_on": "2026-11-21", "file_hash": file_hash(a.read_bytes())})
    b = tmp_path / "b.yaml"
    b.write_text(yaml.safe_dump(second, sort_keys=False, allow_unicode=True))
    return a, b


def test_a_tiered_alert_whose_questions_were_not_asked_is_not_excluded_not_cleared(cli, tmp_path):
    """Cauda equina at risk (URGENT) last time; the other leg's extent not asked now: the alert is
    not excluded - not "cleared" - and the lower urgency is "on the answers given"."""
    a, b = _pair(tmp_path, "bilateral-sciatica-ces-at-risk.yaml", "pain.other_leg_extent")
    data = json.loads(cli("compare", str(a), str(b), "-f", "json").out)
    assert data["alerts_cleared"] == [] and data["urgency"]["change"] == "lower"
    (flag,) = data["not_excluded_alerts"]
    assert (flag["alert"], flag["tier"], flag["was"]) == ("ces_at_risk", None, "urgent")
    text = " ".join(cli("compare", str(a), str(b), "-f", "text").out.split())
    assert "Alerts cleared" not in text and "NOT EXCLUDED since last visit: Cauda equina at risk" in text
    assert "Urgency: URGENT -> ROUTINE (lower, on the answers given)." in text
    rows = json.loads(cli("compare", "--series", str(a), str(b), "-f", "json").out)
    assert rows[1]["not_excluded_red_flags"] == ["ces_at_risk:urgent"]


def test_ids_in_since_last_visit_are_shown_as_typed_in_markdown(cli, tmp_path):
    """A previous visit's id with Markdown in it is no live link in the note or `compare -f md`."""
    import markdown_it

    a, b = _pair(tmp_path, "radicular-l5.yaml", "pain.back_nrs", pid="[click](http://evil.example/)")
    for run in (cli("note", str(b)), cli("compare", str(a), str(b), "-f", "md")):
        assert run.code == 0, run.err
        html = markdown_it.MarkdownIt().render(run.out)
        assert "evil.example" in html and "href" not in html


def test_an_answer_recorded_under_a_question_now_irrelevant_is_shown_as_recorded_not_as_not_asked(cli, tmp_path):
    """The second visit leaves the cauda equina features unknown but still records when they began
    and that they are worsening. The comparison said "2/7 -> not asked" and "yes -> not asked"
    of answers the file holds (the note shows them); an answer is hidden only when it records no
    more than skipping its question does."""
    a, b = _visits(tmp_path, "notes")
    first = yaml.safe_load(a.read_text())
    assert first["cauda_equina"]["saddle_numbness"] is True and "onset_days" in first["cauda_equina"]
    first["cauda_equina"]["worsening"] = None  # unknown at the first visit
    a.write_text(yaml.safe_dump(first, sort_keys=False))
    data = yaml.safe_load(b.read_text())
    data["follow_up_of"]["file_hash"] = file_hash(a.read_bytes())
    data["cauda_equina"] = {**first["cauda_equina"], "saddle_numbness": None, "bladder_sensation_reduced": None,
                            "urinary_retention": None, "worsening": True}
    data["neuro"] = {**data.get("neuro", {}), "weakness_both_legs": False}
    b.write_text(yaml.safe_dump(data, sort_keys=False))
    run = cli("compare", str(a), str(b), "-f", "json")
    assert run.code == 0, run.err
    changes = {c["field"]: c for c in json.loads(run.out)["changed"]}
    assert "cauda_equina.saddle_numbness" in changes  # yes -> unsure: a change, shown
    assert "cauda_equina.onset_days" not in changes  # recorded at both visits, unchanged
    assert changes["cauda_equina.worsening"]["now_label"] == "yes", changes  # unsure -> yes: as recorded
    text = " ".join(cli("compare", str(a), str(b), "-f", "text").out.split())
    assert "-> not asked" not in text, text
    note = " ".join(cli("note", str(b), "-f", "text", "--full").out.split())
    assert "worsening: yes" in note.lower()
