"""The real `lbp-assess assess` in a pseudo-terminal (pexpect), driven as a clinician types: shared by the terminal tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from lbp_assess.consult.interview import Interview
from lbp_assess.cli.prompts import CHOICE_KEYS
from lbp_assess.engine.ruleset.load import load_rules

from helpers import RULES

pexpect = pytest.importorskip("pexpect")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX only")

RULESET = load_rules(RULES)
DOWN, ENTER = "\x1b[B", "\r"

RADICULAR: dict[str, Any] = {
    "id": "pty-radicular", "assessor": "", "patient.age": 41, "patient.sex": "male", "pain.back_nrs": 4,
    "pain.leg_side": "right", "pain.leg_nrs": 7, "pain.leg_extent": "foot", "pain.dominant": "leg",
    "pain.dermatomal": True, "pain.root_level": "L5", "pain.thoracic": False, "pain.abdominal": False,
    "onset.weeks_ago": 3, "onset.mode": "sudden", "onset.mechanism": "lifting", "onset.previous_episodes": True,
    "behaviour.mechanical": True, "behaviour.constant": False, "behaviour.morning_stiffness_min": 10,
    "behaviour.night_pain": "positional", "behaviour.eased_by_rest": True, "behaviour.eased_by_exercise": False,
    "behaviour.aggravated_by": ["sitting", "bending"], "behaviour.eased_by": ["lying"],
    "behaviour.worse_cough_sneeze": True, "walking.leg_symptoms_on_walking": False,
    "neuro.paraesthesia": True, "neuro.numbness": False, "neuro.weakness": False, "neuro.gait_change": False,
    "progression.course": "improving", "psychosocial.start_back": None,
    "notes.presenting": "Right leg pain to the foot after lifting", "notes.pmh": "", "notes.dh": "",
    "notes.sh": "", "notes.goals": "Back to work",
    # the structured subjective: pain quality and irritability, medication, investigations,
    # treatment so far, work and activity, the PSFS
    "pain.quality": ["aching", "shooting"], "pain.irritability": "moderate", "history.spinal_surgery": False,
    "medication.analgesia": ["paracetamol", "nsaid"], "medication.analgesia_effect": "partial",
    "medication.anticoagulant": False, "investigations.done": [], "treatment.previous": [],
    "social.work": "modified_duties", "social.activity": "some",
    "function.psfs_activity_one": "Sitting at work", "function.psfs_one": 4, "function.psfs_activity_two": "",
}
for fact in ("urinary_retention", "bladder_sensation_reduced", "urinary_incontinence", "bowel_incontinence",
             "saddle_numbness", "sexual_dysfunction"):
    RADICULAR[f"cauda_equina.{fact}"] = False
for fact in ("weight_loss", "fever", "night_sweats", "unwell"):
    RADICULAR[f"systemic.{fact}"] = False
for fact in ("cancer", "osteoporosis", "long_term_steroids", "immunosuppressed", "iv_drug_use",
             "recent_infection", "recent_spinal_procedure", "inflammatory_disease", "diabetes", "smoker",
             "vascular_disease"):
    RADICULAR[f"history.{fact}"] = False


def as_typed(question, value: Any) -> Any:
    """The answer the prompt can give: a tick list offers only some values (the others are asked
    as their own questions)."""
    if question.kind == "multi" and isinstance(value, list):
        return [v for v in value if v in dict(question.offered)]
    return value


def keys_for(question, value: Any) -> str:
    """The key presses that give `value` at `question`: one key for a closed question."""
    if question.kind == "yes_no":
        return {True: "y", False: "n", None: "u"}[value]
    if question.kind == "choice":
        if value is None:
            return "u"
        return CHOICE_KEYS[[v for v, _ in question.offered].index(value)]
    if question.kind == "multi":
        if value is None:
            return "u"
        if value == []:
            return "0"  # none of these
        offered = [v for v, _ in question.offered]
        return "".join(CHOICE_KEYS[offered.index(v)] for v in value) + ENTER
    if question.kind == "items":
        assert value is None
        return "u"  # skip (not recorded)
    return ("" if value is None else str(value)) + ENTER


class Session:
    def __init__(self, args: list[str], cwd: Path, answers: dict[str, Any], shadow: Interview | None = None):
        env = dict(os.environ, PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm", COLUMNS="250", LINES="50")
        self.child = pexpect.spawn(sys.executable, ["-m", "lbp_assess", "assess", *args], cwd=str(cwd),
                                   env=env, encoding="utf-8", timeout=15, dimensions=(50, 250))
        self.answers = answers
        self.shadow = shadow or Interview(RULESET)

        self.keys: list[tuple[str, str]] = []  # (question kind, keys sent)

    def answer_next(self) -> str:
        question = self.shadow.current()
        assert question is not None
        self.child.expect_exact(question.text)
        value = as_typed(question, self.answers.get(question.id))
        stored = value if value not in ("",) else None
        keys = keys_for(question, value)
        self.keys.append((question.kind, keys))
        self.child.send(keys)
        self.shadow.answer(stored)
        return question.id

    def edit_at_review(self, qid: str, value: Any) -> None:
        """Open the question's section at the review, pick the question, answer it."""
        self.child.expect_exact("Save, or open a section to check or edit?")
        sections: dict[str, list[str]] = {}
        for row in self.shadow.review_rows():
            sections.setdefault(row.question.section_title, []).append(row.question.id)
        titles = list(sections)
        title = self.shadow.questionnaire.by_id[qid].section_title
        self.child.send(CHOICE_KEYS[titles.index(title)])
        self.child.expect_exact(f"{title}: which answer?")
        self.child.send(CHOICE_KEYS[sections[title].index(qid)])
        self.shadow.edit(qid)
        self.answers[qid] = value
        self.answer_next()

    def answer_until(self, qid: str | None = None) -> None:
        while self.shadow.current() is not None:
            if qid is not None and self.shadow.current().id == qid:
                return
            self.answer_next()

    def finish(self) -> str:
        self.child.expect_exact("Save, or open a section to check or edit?")
        self.child.send("s")
        self.child.expect(pexpect.EOF)
        self.child.close()
        assert self.child.exitstatus == 0, self.child.before
        return self.child.before
