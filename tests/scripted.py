"""A scripted prompter that answers the interview engine's questions: shared by the interview tests."""

from __future__ import annotations

from typing import Any


from lbp_assess.consult.interview import Interview, conduct


class Scripted:
    """Answers by question id; records what was asked, with the defaults offered."""

    def __init__(self, answers: dict[str, Any], edits: list[tuple[str, Any]] = (), fallback: Any = None):
        self.answers = dict(answers)
        self.queue: dict[str, list[Any]] = {}
        self.edits = list(edits)
        self.fallback = fallback
        self.asked: list[str] = []
        self.defaults: dict[str, Any] = {}
        self.alerts: list = []
        self.invalids: list[str] = []
        self.reviews = 0
        self.notices: list[str] = []
        self.results: list = []

    def ask(self, question, default, progress):
        self.asked.append(question.id)
        self.defaults.setdefault(question.id, []).append(default)
        assert 1 <= progress.number <= progress.total
        if self.queue.get(question.id):
            return self.queue[question.id].pop(0)
        if question.id in self.answers:
            return self.answers[question.id]
        if question.id == "id":
            return "scripted"
        return self.fallback

    def invalid(self, question, message):
        self.invalids.append(f"{question.id}: {message}")

    def alert(self, alert):
        self.alerts.append(alert)

    def notice(self, text):
        self.notices.append(text)

    def review(self, interview):
        self.reviews += 1
        self.results.append(interview.assessment())
        if self.edits:
            qid, value = self.edits.pop(0)
            self.answers[qid] = value
            return qid
        return None


RADICULAR = {
    "id": "rad-1", "patient.age": 41, "patient.sex": "male", "pain.back_nrs": 4, "pain.leg_side": "right",
    "pain.leg_nrs": 7, "pain.leg_extent": "foot", "pain.dominant": "leg", "pain.dermatomal": True,
    "pain.root_level": "L5", "pain.thoracic": False, "pain.abdominal": False, "onset.weeks_ago": 3,
    "onset.mode": "sudden", "onset.mechanism": "lifting", "onset.previous_episodes": True,
    "behaviour.mechanical": True, "behaviour.constant": False, "behaviour.worse_cough_sneeze": True,
    "walking.leg_symptoms_on_walking": False, "neuro.paraesthesia": True, "neuro.numbness": False,
    "neuro.weakness": False, "neuro.gait_change": False,
    **{f"cauda_equina.{f}": False for f in ("urinary_retention", "bladder_sensation_reduced",
                                            "urinary_incontinence", "bowel_incontinence", "saddle_numbness",
                                            "sexual_dysfunction")},
    **{f"systemic.{f}": False for f in ("weight_loss", "fever", "night_sweats", "unwell")},
    "history.cancer": False, "progression.course": "improving",
}


def interview_of(ruleset, script: Scripted, **kwargs) -> tuple[Interview, list[int]]:
    interview = Interview(ruleset, **kwargs)
    saves: list[int] = []
    conduct(interview, script, lambda i: saves.append(len(i.answers)))
    return interview, saves
