"""Practice mode for students: commit to a class and an urgency from a vignette (or by
taking the history), say which features you relied on, and see how the rules reasoned.

The answer key is always the rule set's own assessment; the features that
"mattered" are the facts that decided the rules that fired (conditions, alerts
with a tier, and the findings that set the class). Nothing here touches a
terminal: a `PracticePrompter` asks and shows (prompts.py has the terminal one).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from .case import FACTS, Case, facts_of, load_case
from .errors import InputError
from .interview import describe_answer
from .questionnaire import Question
from .rules import Assessment, RuleSet, describe_value

DONE = "__done__"


# --------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Finding:
    """One thing the history says, as a student would tick it."""

    fact: str
    value: Any
    text: str  # "Furthest extent: Into the foot"


def _is_positive(value: Any) -> bool:
    return value not in (None, False, "none", "") and value != frozenset() and value != []


def finding(fact: str, value: Any, ruleset: RuleSet) -> Finding:
    q = ruleset.questionnaire.by_id.get(fact) if ruleset.questionnaire else None
    shown = describe_answer(q, sorted(value) if isinstance(value, frozenset) else value) if q \
        else describe_value(value)
    return Finding(fact, value, f"{q.label if q else fact}: {shown}")


def key_facts(assessment: Assessment) -> set[str]:
    """Facts that decided the rules that matter: conditions, tiered alerts, class findings."""
    class_findings = set(assessment.ruleset.class_findings)
    keys: set[str] = set()
    for trace in assessment.trace():
        r = trace.rule
        if trace.state != "fired":
            continue
        if r.raises == "condition" or (r.raises == "alert" and r.tier) or r.name in class_findings:
            keys.update(n for n, v in trace.facts.items() if n in FACTS and _is_positive(v))
    return keys


# --------------------------------------------------------------------------- exercises


@dataclass
class Exercise:
    case: Case
    source: str
    assessment: Assessment
    keys: list[Finding]  # what mattered
    options: list[Finding]  # what the student may tick: keys, other findings, distractors


def make_exercise(case: Case, source: str, ruleset: RuleSet, rng: random.Random) -> Exercise:
    a = ruleset.assess(case)
    facts = facts_of(case)
    key_names = key_facts(a)
    keys = [finding(f, facts[f], ruleset) for f in FACTS if f in key_names]
    others = [finding(f, v, ruleset) for f, v in facts.items()
              if f not in key_names and _is_positive(v) and FACTS[f].kind in ("bool", "enum")]
    absent = [f for f, v in facts.items() if FACTS[f].kind == "bool" and v is not True]
    distractors = [finding(f, True, ruleset) for f in rng.sample(absent, min(4, len(absent)))]
    options = keys + rng.sample(others, min(4, len(others))) + distractors
    rng.shuffle(options)
    return Exercise(case, source, a, keys, options)


@dataclass
class Attempt:
    classification: str
    urgency: str
    ticked: list[str]  # fact paths
    asked: list[str] | None = None  # questions asked, in history-taking mode
    seconds: float = 0.0


@dataclass
class Feedback:
    exercise: Exercise
    attempt: Attempt
    class_ok: bool
    urgency_ok: bool
    missed_red_flag: bool  # a red-flag case not called red flag
    under_triage: bool  # an emergency/urgent case given a lower urgency
    missed: list[Finding]
    irrelevant: list[Finding]
    red_flag_questions_not_asked: list[str] = field(default_factory=list)

    @property
    def serious(self) -> bool:
        return self.missed_red_flag or self.under_triage


def mark(exercise: Exercise, attempt: Attempt) -> Feedback:
    a = exercise.assessment
    rs = a.ruleset
    rank = rs.tier_rank
    ticked = set(attempt.ticked)
    key_names = {k.fact for k in exercise.keys}
    options = {o.fact: o for o in exercise.options}
    not_asked = []
    if attempt.asked is not None:
        not_asked = [f for f in rs.manifest.screening if f not in attempt.asked]
    return Feedback(
        exercise, attempt,
        class_ok=attempt.classification == a.classification,
        urgency_ok=attempt.urgency == a.urgency,
        missed_red_flag=a.classification == "red_flag" and attempt.classification != "red_flag",
        under_triage=rs.manifest.tiers[a.urgency].show_at_once and rank[attempt.urgency] > rank[a.urgency],
        missed=[k for k in exercise.keys if k.fact not in ticked],
        irrelevant=[options[f] for f in attempt.ticked if f not in key_names and f in options],
        red_flag_questions_not_asked=not_asked,
    )


def feedback_lines(fb: Feedback) -> list[str]:
    """The feedback, as rich-markup lines."""
    a = fb.exercise.assessment
    m = a.ruleset.manifest
    q = a.ruleset.questionnaire
    ok = lambda good: "[green]right[/green]" if good else "[red]wrong[/red]"  # noqa: E731
    lines = []
    if fb.missed_red_flag:
        lines.append(f"[bold red]SERIOUS: this is a red-flag case and it was not called one.[/bold red] "
                     f"{', '.join(m.conditions[c].label for c in a.conditions)}.")
    if fb.under_triage:
        tier = m.tiers[a.urgency]
        lines.append(f"[bold red]SERIOUS: under-triaged - this needs {tier.label.lower()} action "
                     f"({tier.time_frame}), not {fb.attempt.urgency}.[/bold red]")
    lines.append(f"Classification: {ok(fb.class_ok)} - you said {fb.attempt.classification}, "
                 f"the rules say [bold]{a.classification}[/bold] ({m.classes[a.classification].label}).")
    lines.append(f"Urgency: {ok(fb.urgency_ok)} - you said {fb.attempt.urgency}, the rules say "
                 f"[bold]{a.urgency}[/bold] ({m.tiers[a.urgency].time_frame}).")
    lines.append("[bold]How the rules reasoned:[/bold]")
    for trace in a.trace():
        if trace.state == "fired":
            r = trace.rule
            lines.append(f"  • {' '.join(r.reason.split())} [dim]({r.source})[/dim]")
    if fb.missed:
        lines.append("[bold]Features that mattered and you did not tick:[/bold] "
                     + "; ".join(f.text for f in fb.missed))
    if fb.irrelevant:
        lines.append("[bold]Features you relied on that did not matter here:[/bold] "
                     + "; ".join(f.text for f in fb.irrelevant))
    if not fb.missed and not fb.irrelevant:
        lines.append("[green]You picked exactly the features that mattered.[/green]")
    if fb.attempt.asked is not None:
        lines.append(f"You asked {len(fb.attempt.asked)} question(s).")
        if fb.red_flag_questions_not_asked:
            names = [q.label(f) if q else f for f in fb.red_flag_questions_not_asked]
            lines.append("[bold red]Red-flag questions never asked[/bold red] (unscreened even if the answer "
                         "would have been no): " + "; ".join(names))
    return lines


# --------------------------------------------------------------------------- scorecard


@dataclass
class Scorecard:
    classes: list[str]
    results: list[Feedback] = field(default_factory=list)

    def add(self, fb: Feedback) -> None:
        self.results.append(fb)

    def lines(self) -> list[str]:
        n = len(self.results)
        if not n:
            return ["No cases attempted."]
        out = []
        serious = [fb for fb in self.results if fb.serious]
        if serious:
            out.append(f"[bold red]Red flags missed or under-triaged: {len(serious)}[/bold red]")
            out += [f"  • {fb.exercise.case.id} ({fb.exercise.assessment.urgency}: "
                    f"{', '.join(fb.exercise.assessment.conditions) or 'alert'})" for fb in serious]
        out.append(f"Classification: {sum(fb.class_ok for fb in self.results)}/{n}; "
                   f"urgency: {sum(fb.urgency_ok for fb in self.results)}/{n}")
        for name in self.classes:
            of_class = [fb for fb in self.results if fb.exercise.assessment.classification == name]
            if of_class:
                out.append(f"  {name}: {sum(fb.class_ok for fb in of_class)}/{len(of_class)}")
        return out


def record_line(fb: Feedback, mode: str) -> str:
    e, t = fb.exercise, fb.attempt
    return json.dumps({
        "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "case": e.case.id,
        "file": e.source, "mode": mode,
        "answer": {"classification": t.classification, "urgency": t.urgency, "features": t.ticked,
                   "questions": t.asked},
        "key": {"classification": e.assessment.classification, "urgency": e.assessment.urgency,
                "conditions": list(e.assessment.conditions)},
        "correct": {"classification": fb.class_ok, "urgency": fb.urgency_ok},
        "missed_red_flag": fb.missed_red_flag, "under_triage": fb.under_triage,
        "missed_features": [f.fact for f in fb.missed], "seconds": round(t.seconds, 1),
        "rules_version": e.assessment.rules_version,
    }, ensure_ascii=False)


# --------------------------------------------------------------------------- the session


class PracticePrompter(Protocol):
    def show(self, title: str, lines: list[str]) -> None: ...

    def choose(self, text: str, choices: list[tuple[Any, str]], search: bool = False) -> Any: ...

    def choose_many(self, text: str, choices: list[tuple[Any, str]]) -> list[Any]: ...


def load_exercise_cases(paths: list[str], need_vignette: bool) -> list[tuple[str, Case]]:
    """Case files under `paths`; in narrative mode only those with a vignette."""
    from .batch import expand

    cases = []
    for path in expand(paths):
        if not path.endswith((".yaml", ".yml", ".json")):
            continue
        case = load_case(path)
        if need_vignette and not case.vignette:
            continue
        cases.append((path, case))
    if not cases:
        what = "case files with a `vignette:`" if need_vignette else "case files"
        raise InputError(f"no {what} found in {', '.join(paths)}")
    return cases


def default_vignettes() -> Path:
    from importlib import resources

    packaged = Path(str(resources.files("lbp_assess"))) / "vignettes"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "examples" / "vignettes"


def choose_cases(cases: list[tuple[str, Case]], ruleset: RuleSet, count: int | None, seed: int | None,
                 topic: str | None) -> list[tuple[str, Case]]:
    if topic is not None:
        cases = [(p, c) for p, c in cases if ruleset.assess(c).classification == topic]
        if not cases:
            raise InputError(f"no case has the class {topic!r}")
    rng = random.Random(seed)
    cases = list(cases)
    rng.shuffle(cases)
    return cases[:count] if count else cases


def run(cases: list[tuple[str, Case]], ruleset: RuleSet, prompter: PracticePrompter, card: Scorecard, *,
        seed: int | None = None, history_taking: bool = False, record: IO[str] | None = None) -> Scorecard:
    """Practise on each case, adding to `card` (kept if interrupted); append each attempt to `record`."""
    rng = random.Random(seed)
    m = ruleset.manifest
    for number, (source, case) in enumerate(cases, 1):
        exercise = make_exercise(case, source, ruleset, rng)
        started = time.monotonic()
        asked = _take_history(case, ruleset, prompter, number, len(cases)) if history_taking else None
        if not history_taking:
            prompter.show(f"Case {number} of {len(cases)}", [" ".join((case.vignette or "").split())])
        classification = prompter.choose("Your classification?", [(c, n.label) for c, n in m.classes.items()])
        urgency = prompter.choose("Your urgency?", [(t, f"{n.label} - {n.time_frame}") for t, n in m.tiers.items()])
        ticked = prompter.choose_many("Which features did you rely on?", [(o.fact, o.text) for o in exercise.options])
        attempt = Attempt(classification, urgency, list(ticked), asked, time.monotonic() - started)
        fb = mark(exercise, attempt)
        card.add(fb)
        prompter.show("Feedback", feedback_lines(fb))
        if record is not None:
            record.write(record_line(fb, "history" if history_taking else "vignette") + "\n")
            record.flush()
    return card


def _take_history(case: Case, ruleset: RuleSet, prompter: PracticePrompter, number: int, total: int) -> list[str]:
    """The student picks questions; the case answers them. Returns the questions asked."""
    q = ruleset.questionnaire
    assert q is not None
    facts = facts_of(case)
    sex = case.patient.sex if case.patient and case.patient.sex not in (None, "not_stated", "other") else "person"
    age = f"{case.patient.age}-year-old " if case.patient and case.patient.age else ""
    prompter.show(f"Case {number} of {total}", [f"A {age}{sex} with low back pain. Take the history: "
                                                "choose your questions, then make your call."])
    asked: list[str] = []
    pool = [question for question in q.questions if question.id not in ("id", "assessor")]
    while True:
        choices: list[tuple[Any, str]] = [(DONE, "Done - make my call")]
        choices += [(qn.id, f"{qn.section_title} › {qn.text}") for qn in pool if qn.id not in asked]
        picked = prompter.choose("Ask:", choices, search=True)
        if picked == DONE:
            return asked
        asked.append(picked)
        question = q.by_id[picked]
        prompter.show(question.text, [_reply(question, case, facts)])


def _reply(question: Question, case: Case, facts: dict[str, Any]) -> str:
    if question.id.startswith("notes."):
        value = getattr(case.notes, question.id.split(".", 1)[1], None) if case.notes else None
        return value or "(nothing recorded)"
    value = facts.get(question.id)
    if value is None:
        return "The patient isn't sure (not recorded in this case)."
    return describe_answer(question, sorted(value) if isinstance(value, frozenset) else value)
