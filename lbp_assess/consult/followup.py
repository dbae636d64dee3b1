"""Starting a follow-up visit from the last one: the interview asks what has changed first
(interview.yaml `follow_up`), asks every red-flag screening question afresh, and offers the
earlier answers to the stable history as defaults (suggestions, never answers). Durations advance
by the days between the two visits. The new case records `follow_up_of`: the earlier case's id,
date, the SHA-256 of its file and the rules version it was assessed with.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ..model.case import Case
from ..base.text import plain
from ..base.errors import InputError
from .interview import Interview
from ..engine.ruleset.model import RuleSet
from ..outputs.visits import Visit, check_pair


_DATED_ID = re.compile(r"-\d{4}-\d{2}-\d{2}$")  # a follow-up id ends in its date

def record_of(previous: Visit) -> dict[str, Any]:
    """The `follow_up_of` data of a follow-up to `previous`."""
    record: dict[str, Any] = {"id": previous.case.id}
    if previous.case.assessed_on:
        record["assessed_on"] = previous.case.assessed_on.isoformat()
    if previous.file_hash:
        record["file_hash"] = previous.file_hash
    if previous.rules_version:
        record["rules_version"] = previous.rules_version
    return record


def next_id(previous_id: str, visit_date: dt.date) -> str:
    """The suggested id of a follow-up: the earlier id (without a date it ends in) and this visit's date."""
    return f"{_DATED_ID.sub('', previous_id)[:69]}-{visit_date.isoformat()}"


def suggestions(ruleset: RuleSet, previous: Case, visit_date: dt.date) -> dict[str, Any]:
    """The earlier answers to the stable history (interview.yaml `follow_up.offer_earlier`), durations
    advanced by the days between the visits, and the id of this visit. Red flags are never among them."""
    q = ruleset.questionnaire
    follow_up = q.follow_up if q else None
    if follow_up is None:
        return {}
    earlier = Interview.from_case(ruleset, previous).answers
    offered = {qid: earlier[qid] for qid in follow_up.offer_earlier if earlier.get(qid) is not None}
    for qid in follow_up.advance_with_time:
        if qid not in offered:
            continue
        if previous.assessed_on is None:
            del offered[qid]  # how long ago cannot be known: asked afresh
            continue
        days = (visit_date - previous.assessed_on).days
        unit = q.by_id[qid].unit  # type: ignore[union-attr]
        offered[qid] = round(offered[qid] + (days / 7 if unit == "weeks" else days), 1)
    offered["id"] = next_id(previous.id, visit_date)
    return offered


def start(ruleset: RuleSet, previous: Visit, answers: Case | None = None,
          today: dt.date | None = None, answers_source: str = "--answers") -> tuple[Interview, dict[str, str]]:
    """The interview of a follow-up to `previous`; `answers` (a case file for this visit) are answers,
    its assessed_on the date of this visit (else today). Returns the interview and the suggestions
    refused (question -> why)."""
    base = Interview.from_case(ruleset, answers) if answers is not None else None
    visit_date = answers.assessed_on if answers is not None and answers.assessed_on else today or dt.date.today()
    if previous.case.assessed_on and visit_date < previous.case.assessed_on:
        raise InputError(f"{plain(previous.source)}: the previous visit is dated {previous.case.assessed_on}, after "
                         f"this visit ({visit_date}); a follow-up comes later")
    if answers is not None:  # this visit's answers: the same patient, a visit of its own, following this one
        check_pair(previous, Visit(answers.model_copy(update={"assessed_on": visit_date}), answers_source),
                   linked=True)
    interview = Interview(ruleset, base.answers if base else {}, assessed_on=visit_date.isoformat(),
                          follow_up_of=record_of(previous))
    refused = interview.suggest(suggestions(ruleset, previous.case, visit_date))
    return interview, refused


def keep_earlier_answers(interview: Interview) -> list[str]:
    """Without a terminal: the earlier answers offered are kept (as Enter would keep them) and
    the case records which (`follow_up_of.carried_over`)."""
    kept = interview.keep_suggestions()
    carried = [qid for qid in kept if qid != "id"]
    if carried and interview.follow_up_of is not None:
        interview.follow_up_of = {**interview.follow_up_of, "carried_over": carried}
    return kept




def introduction(record: dict[str, Any]) -> str:
    """What the clinician is told as a follow-up interview starts."""
    when = f" ({record['assessed_on']})" if record.get("assessed_on") else ""
    return (f"Follow-up of {plain(record['id'])}{when}: what has changed is asked first; every red-flag question is "
            "asked afresh; earlier answers to the stable history are offered (Enter keeps one).")
