"""A follow-up consultation in a real pseudo-terminal: new saddle numbness since the last visit.

The shadow interview is started the way `assess --follow-up` starts it, so the test also checks
that the terminal asks what changed first, offers the earlier stable history as defaults (Enter
keeps them), asks every red-flag question afresh, and that the saved note opens with what changed.
"""

from __future__ import annotations

import sys

import pytest

from lbp_assess.consult import followup
from lbp_assess.outputs import visits
from lbp_assess.inputs.cases import load_case
from lbp_assess.consult.interview import NOT_ANSWERED, Interview

from helpers import EXAMPLES
from terminal_session import ENTER, RULESET, Session, as_typed, keys_for

pexpect = pytest.importorskip("pexpect")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX only")

PREVIOUS = EXAMPLES / "follow-up" / "new-ces" / "fu-ces.case.yaml"


class FollowUpSession(Session):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.offers: list[str] = []
        self.asked: list[str] = []

    def answer_next(self) -> str:
        offer = self.shadow.offer()
        if offer is not None:  # the 24-hour pattern offered whole: the same as last time
            self.child.expect_exact(f"{offer.label}: same as last time?")
            self.child.send("y")
            self.keys.append(("offer", "y"))
            self.shadow.take_offer(offer, True)
            self.offers.append(offer.label)
            return "offer"
        question = self.shadow.current()
        assert question is not None
        self.child.expect_exact(question.text)
        value = as_typed(question, self.answers.get(question.id))
        default = self.shadow.default(question)
        offered = default is not NOT_ANSWERED and default == value
        self.asked.append(question.id)
        keys = ENTER if offered else keys_for(question, value)  # Enter keeps what is offered
        self.keys.append((question.kind, keys))
        self.child.send(keys)
        if any(c.tier == "emergency" and c.change == "raised" for c in self.shadow.answer(value)):
            self.child.expect_exact("save the case and note now?")
            self.child.send("g")  # go on with the interview
        return question.id


def test_a_follow_up_where_saddle_numbness_is_new(tmp_path):
    shadow, _ = followup.start(RULESET, visits.read_visit(PREVIOUS))
    answers = dict(Interview.from_case(RULESET, load_case(PREVIOUS)).answers)
    answers.update(shadow.suggestions)  # the stable history as it was (and the id offered)
    answers["behaviour.aggravated_by"] = ["sitting", "bending"]  # as offered at the prompt
    answers.update({"pain.leg_nrs": 8, "progression.course": "worsening", "cauda_equina.saddle_numbness": True,
                    "cauda_equina.onset_days": 2, "cauda_equina.worsening": True})
    session = FollowUpSession(["--follow-up", str(PREVIOUS), "--out", str(tmp_path)], tmp_path, answers, shadow)
    session.child.expect_exact("Follow-up of fu-ces (2026-11-21)")
    session.child.expect_exact("Since last visit")  # the heading of what is asked first
    assert session.answer_next() == "progression.course"
    session.answer_until("cauda_equina.saddle_numbness")
    asked = [q.id for q in shadow.questions if q.id in shadow.answers]
    assert set(RULESET.manifest.screening[:4]) <= set(asked)  # asked afresh, not carried over
    assert session.answer_next() == "cauda_equina.saddle_numbness"
    session.answer_until()
    output = session.finish()
    assert "NEW RED FLAG since last visit: Cauda equina syndrome - EMERGENCY" in output
    (note_path,) = tmp_path.glob("*.note.md")
    note = note_path.read_text()
    first = note.split("\n## ")[1]
    assert first.startswith("Since last visit\n")
    assert "- **NEW RED FLAG since last visit: Cauda equina syndrome - EMERGENCY (same day, now).**" in first
    assert "- **NEW positive red-flag answer since last visit: Saddle numbness.**" in first
    assert "Leg pain: 7/10 -> 8/10 (+1)." in first
    case = load_case(note_path.with_name(note_path.name.replace(".note.md", ".case.yaml")))
    assert case.follow_up_of.id == "fu-ces" and case.follow_up_of.carried_over is None
    assert case.patient.age == 41 and case.cauda_equina.saddle_numbness is True
    # the 24-hour pattern, aggravating and easing: kept whole on one key, as they were last time
    assert session.offers == ["24-hour pattern, aggravating and easing"]
    before = load_case(PREVIOUS)
    assert case.behaviour == before.behaviour
    assert not [qid for qid in session.asked if qid.startswith("behaviour.")], "none asked one by one"
    closed = [keys for kind, keys in session.keys if kind in ("yes_no", "choice", "multi", "offer")]
    print(f"follow-up: {len(closed)} closed prompts, {sum(map(len, closed)) / len(closed):.2f} keys each")
