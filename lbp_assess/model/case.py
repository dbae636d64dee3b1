"""The case-file format `lbp-case/1`: pydantic models, loading, and the fact vocabulary.

The models follow `docs/case-format.md` field for field. Yes/no facts are
three-valued: `True`, `False`, or `None` = not asked or unknown. Models are
strict (`yes` is not a boolean, `"7"` is not a number) and forbid unknown keys,
so a typo can never turn a red-flag answer into a silent "unscreened".

The same models define the vocabulary that rules and questions are checked
against (`FACTS`): one source of truth for every fact name, type and enum value.
Annotations are evaluated as the module loads (no postponed annotations): pydantic would
otherwise compile each field's annotation from a string at every start.
"""

import datetime as dt
import functools
import json
import math
import re
import shlex
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Optional, Union, get_args, get_origin

import msgspec
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, Strict, ValidationError

from ..base.errors import InputError, Location, Problem, did_you_mean
from ..base.text import BIDI_CONTROLS, INVISIBLE
from ..base.yamlio import MAX_NODES, Locator, refuse_duplicates

FORMAT = "lbp-case/1"
#: An interview's autosave (consult.interview), kept beside the cases it is writing: not a case.
DRAFT_FORMAT = "lbp-draft/1"
CASE_SUFFIXES = (".yaml", ".yml", ".json", ".jsonl", ".ndjson")
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")  # one case (or FHIR resource) per line

Sex = Literal["female", "male", "other", "not_stated"]
LegSide = Literal["none", "left", "right", "both", "alternating"]
LegExtent = Literal["none", "buttock", "thigh", "below_knee", "foot"]
Dominant = Literal["back", "leg", "equal"]
RootLevel = Literal["L3", "L4", "L5", "S1", "unclear"]
OnsetMode = Literal["sudden", "gradual"]
Mechanism = Literal[
    "none_identified", "lifting", "bending_twisting", "sustained_posture", "minor_trauma", "major_trauma", "other"
]
NightPain = Literal["none", "positional", "second_half", "unrelenting"]
Aggravator = Literal["sitting", "standing", "walking", "bending", "lifting", "extension", "lying", "cough_sneeze"]
Easer = Literal["sitting", "standing", "walking", "lying", "bending_forward", "rest", "movement"]
Course = Literal["improving", "static", "worsening", "fluctuating"]
PainQuality = Literal["aching", "sharp", "stabbing", "burning", "shooting", "throbbing", "cramping"]
Irritability = Literal["low", "moderate", "high"]
Analgesic = Literal["paracetamol", "nsaid", "weak_opioid", "strong_opioid", "neuropathic", "muscle_relaxant",
                    "topical", "other"]
Effect = Literal["good", "partial", "none"]
Investigation = Literal["x_ray", "mri", "ct", "bone_scan", "blood_tests", "nerve_studies", "other"]
Treatment = Literal["physiotherapy", "exercise", "manual_therapy", "acupuncture", "injection", "pain_clinic",
                    "other"]
TreatmentEffect = Literal["resolved", "helped", "no_change", "worse"]
WorkStatus = Literal["working", "modified_duties", "off_sick", "not_working", "retired", "student"]
ActivityLevel = Literal["inactive", "some", "active"]
Classification = Literal["non_specific", "radicular", "stenosis", "red_flag"]
Urgency = Literal["emergency", "urgent", "soon", "routine"]

Fact = Optional[bool]
Nrs = Optional[int]
# Every number has a finite range: the upper limits below are plausibility limits for
# data entry (no episode lasts over 100 years), not clinical thresholds; those live in rules/.


AGE_RANGE = (16, 110)  # the tool is for adults (docs/case-format.md)


def _adult(age: int) -> int:
    low, high = AGE_RANGE
    if age < low:
        raise ValueError(f"lbp-assess is for adults: age must be {low} or over (got {age})")
    if age > high:
        raise ValueError(f"age must be between {low} and {high} (got {age})")
    return age


START_BACK_ITEMS = 9


def _start_back(items: list[int]) -> list[int]:
    if len(items) != START_BACK_ITEMS:
        raise ValueError(f"expected 9 STarT Back answers (items 1-8 as 0/1, item 9 as 0-4), got {len(items)}")
    for number, value in enumerate(items, start=1):
        top = 4 if number == 9 else 1
        if not 0 <= value <= top:
            raise ValueError(f"STarT Back item {number} must be 0..{top}, got {value}")
    return items


# Characters that must never reach a terminal, a CSV row or a note: C0 and C1 controls
# (tab, newline and carriage return are allowed in free text only), DEL, the Unicode
# line separators, bidirectional controls (base.text.BIDI_CONTROLS), and lone surrogates (not text at all).
NOT_IN_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}\ud800-\udfff]")
NOT_IN_TEXT = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}\ud800-\udfff]")


def _refuse(found: re.Match[str] | None, what: str) -> None:
    if found is not None:
        raise ValueError(f"{what} must not contain the control character U+{ord(found.group()):04X} "
                         f"(at character {found.start() + 1})")


def _line(text: str) -> str:
    _refuse(NOT_IN_LINE.search(text), "a single-line field")
    return text


def _identifier(text: str) -> str:
    """An id: one line, and in Unicode NFKC form, so a look-alike (full-width `ｄｅｍｏ`, a ligature,
    a decomposed accent) is refused rather than kept as a second name for the same patient."""
    _line(text)
    problem = identifier_problem(text)
    if problem is not None:
        raise ValueError(problem)
    return text


#: Scripts whose letters look alike: an id that mixes them (Cyrillic `А` in `Аnn`) reads as another id.
_LOOK_ALIKE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK"})


def identifier_problem(text: str) -> str | None:
    """Why `text` cannot be an id (a case's, a student's), or None. An id is a name people compare
    by eye: no character that shows as nothing (zero-width space, soft hyphen, byte-order mark, tag
    characters, variation selectors), no space at either end, and Unicode NFKC form - a look-alike
    (full-width `ｄｅｍｏ`, a ligature, a no-break space) would be a second name for the same one."""
    if not text.strip():
        return "an id must not be empty or blank"
    hidden = next((c for c in text if not c.isprintable() and unicodedata.category(c) != "Zs"), None) \
        or (found.group() if (found := INVISIBLE.search(text)) is not None else None)
    if hidden is not None:
        return (f"an id must not contain the invisible or control character U+{ord(hidden):04X} (at character "
                f"{text.index(hidden) + 1})")
    if not unicodedata.is_normalized("NFKC", text):
        shown = unicodedata.normalize("NFKC", text)
        return f"an id must be written in plain characters (Unicode NFKC): {shown[:80]!r} rather than {text[:80]!r}"
    if text != text.strip():
        return f"an id must not begin or end with a space: {text[:80]!r}"
    if text.isascii():
        return None
    odd = next((c for c in text if unicodedata.category(c) == "Zs" and c != " "), None)
    if odd is not None:
        return f"an id must not contain the space U+{ord(odd):04X} (only an ordinary space)"
    if unicodedata.category(text[0]).startswith("M"):
        return f"an id must not begin with a combining mark (U+{ord(text[0]):04X})"
    scripts = {unicodedata.name(c, "").split(" ")[0] for c in text if c.isalpha()} & _LOOK_ALIKE_SCRIPTS
    if len(scripts) > 1:
        return (f"an id must not mix {' and '.join(sorted(s.title() for s in scripts))} letters: some look alike "
                f"({text[:80]!r})")
    return None


#: The longest free text one field keeps (a note, a vignette), in characters: every case file,
#: answers in full, stays well within the size a file may be (1 MB), and a document pasted into a
#: note is refused where it is typed rather than making the case, or its draft, unreadable.
MAX_TEXT_CHARS = 20_000


def _text(text: str) -> str:
    _refuse(NOT_IN_TEXT.search(text), "text")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"text is {len(text):,} characters long; a field keeps at most {MAX_TEXT_CHARS:,} "
                         "(a summary, not a pasted document)")
    return text


def _lines(items: list[str]) -> list[str]:
    for item in items:
        _line(item)
    return items


def _a_time(value: Any) -> Any:
    # A time is written as text (or read as one by YAML); a bare number is not a time here, though
    # pydantic would read it as seconds since 1970.
    if not isinstance(value, (str, dt.datetime)):
        raise ValueError("expected a date and time as YYYY-MM-DDTHH:MM+HH:MM, got " + repr(value))
    return value


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("expected a date and time with its UTC offset, as YYYY-MM-DDTHH:MM+HH:MM "
                         f"(or Z for UTC), got {value.isoformat()!r}")
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return value


# Validators live in the types (not on the models) so the fast schema used for
# batch scoring (CASE_STRUCT below) runs exactly the same checks.
Age = Annotated[int, AfterValidator(_adult)]
StartBack = Annotated[list[int], AfterValidator(_start_back)]
Line = Annotated[str, AfterValidator(_line)]  # one-line fields
Identifier = Annotated[str, AfterValidator(_identifier)]  # case ids
Text = Annotated[str, AfterValidator(_text)]  # free text: notes, vignettes
Lines = Annotated[list[str], AfterValidator(_lines)]
Number = Annotated[float, AfterValidator(_finite)]
# A time with its UTC offset, read from YAML's timestamp or JSON's string (so never strict); the
# Strict marker sits inside the type, before the validator, as pydantic 2.6 requires.
Moment = Annotated[dt.datetime, Strict(False), BeforeValidator(_a_time), AfterValidator(_aware)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True, defer_build=True)


class Patient(_Section):
    age: Optional[Age] = None
    sex: Optional[Sex] = None  # the sex registered at birth, for clinical purposes (policy v7)


class Pain(_Section):
    back_nrs: Nrs = Field(None, ge=0, le=10)
    leg_nrs: Nrs = Field(None, ge=0, le=10)
    leg_side: Optional[LegSide] = None
    leg_extent: Optional[LegExtent] = None
    other_leg_extent: Optional[LegExtent] = None
    dominant: Optional[Dominant] = None
    dermatomal: Fact = None
    root_level: Optional[RootLevel] = None
    thoracic: Fact = None
    abdominal: Fact = None  # abdominal or flank (loin) pain; files written before policy v6 may include groin pain
    groin: Fact = None  # groin pain, or pain at the front of the pelvis over the pubic bone (policy v6)
    quality: Optional[list[PainQuality]] = None  # how the pain feels (its nature)
    irritability: Optional[Irritability] = None  # how easily provoked, and how long it takes to settle


class Onset(_Section):
    weeks_ago: Optional[Number] = Field(None, ge=0, le=5200)  # <= 100 years
    mode: Optional[OnsetMode] = None
    mechanism: Optional[Mechanism] = None
    previous_episodes: Fact = None
    fracture_excluded: Fact = None


class Behaviour(_Section):
    mechanical: Fact = None
    constant: Fact = None
    morning_stiffness_min: Optional[Number] = Field(None, ge=0, le=1440)  # <= a day
    night_pain: Optional[NightPain] = None
    eased_by_rest: Fact = None
    eased_by_exercise: Fact = None
    worse_cough_sneeze: Fact = None
    nsaid_response: Fact = None  # clearly better within 48 h of an NSAID; unknown if never tried (policy v7)
    aggravated_by: Optional[list[Aggravator]] = None
    eased_by: Optional[list[Easer]] = None


class Walking(_Section):
    leg_symptoms_on_walking: Fact = None
    relief_sitting_or_flexion: Fact = None
    relief_standing_still: Fact = None
    tolerance_min: Optional[Number] = Field(None, ge=0, le=1440)  # <= a day


class Neuro(_Section):
    paraesthesia: Fact = None
    numbness: Fact = None
    weakness: Fact = None
    weakness_both_legs: Fact = None
    weakness_progressing: Fact = None
    foot_drop: Fact = None
    gait_change: Fact = None


class CaudaEquina(_Section):
    urinary_retention: Fact = None
    bladder_sensation_reduced: Fact = None
    urinary_incontinence: Fact = None
    bowel_incontinence: Fact = None
    saddle_numbness: Fact = None
    sexual_dysfunction: Fact = None
    onset_days: Optional[Number] = Field(None, ge=0, le=36500)  # <= 100 years
    worsening: Fact = None


class Systemic(_Section):
    weight_loss: Fact = None
    fever: Fact = None
    night_sweats: Fact = None
    unwell: Fact = None
    collapse: Fact = None  # fainted, collapsed, or felt faint or dizzy since the pain began (policy v6)


class History(_Section):
    cancer: Fact = None
    osteoporosis: Fact = None
    long_term_steroids: Fact = None
    immunosuppressed: Fact = None
    iv_drug_use: Fact = None
    recent_infection: Fact = None
    recent_spinal_procedure: Fact = None
    inflammatory_disease: Fact = None
    diabetes: Fact = None
    smoker: Fact = None
    vascular_disease: Fact = None
    # Policy v7: NICE NG65 criteria, skin-only cancer, a known aortic aneurysm.
    family_spa: Fact = None  # a first-degree relative with spondyloarthritis
    arthritis: Fact = None  # current or past inflammatory arthritis (joints other than the spine)
    enthesitis: Fact = None  # current or past enthesitis
    psoriasis: Fact = None  # current or past psoriasis, including nail psoriasis
    cancer_skin_only: Fact = None  # the only cancer was a confirmed basal cell or cutaneous squamous cell carcinoma
    known_aaa: Fact = None  # a known abdominal aortic aneurysm (under surveillance or repaired)
    spinal_surgery: Fact = None  # any spinal surgery, ever


class Obstetric(_Section):
    """Pregnancy and the postpartum year (policy v6)."""

    pregnant: Fact = None
    gestation_weeks: Optional[Number] = Field(None, ge=0, le=45)
    postpartum: Fact = None  # gave birth in the last 12 months
    postpartum_weeks: Optional[Number] = Field(None, ge=0, le=52)


class Medication(_Section):
    """The drug history that bears on the back pain (long-term oral steroids: history.long_term_steroids)."""

    analgesia: Optional[list[Analgesic]] = None  # [] = none taken
    analgesia_effect: Optional[Effect] = None
    anticoagulant: Fact = None


class Investigations(_Section):
    done: Optional[list[Investigation]] = None  # imaging and tests already done for this problem; [] = none


class TreatmentSoFar(_Section):
    previous: Optional[list[Treatment]] = None  # treatment tried for this or earlier episodes; [] = none
    effect: Optional[TreatmentEffect] = None


class Social(_Section):
    work: Optional[WorkStatus] = None
    activity: Optional[ActivityLevel] = None  # physical activity before this episode


PsfsActivity = Annotated[str, AfterValidator(_line)]


class Function(_Section):
    """Outcome measures of function: the Patient-Specific Functional Scale (up to three activities the
    patient finds hard, each scored 0 unable .. 10 as before), and the Oswestry Disability Index (%),
    where a service uses it."""

    psfs_activity_one: Optional[PsfsActivity] = Field(None, min_length=1, max_length=80)
    psfs_one: Nrs = Field(None, ge=0, le=10)
    psfs_activity_two: Optional[PsfsActivity] = Field(None, min_length=1, max_length=80)
    psfs_two: Nrs = Field(None, ge=0, le=10)
    psfs_activity_three: Optional[PsfsActivity] = Field(None, min_length=1, max_length=80)
    psfs_three: Nrs = Field(None, ge=0, le=10)
    odi: Optional[int] = Field(None, ge=0, le=100)


class Progression(_Section):
    course: Optional[Course] = None


class Psychosocial(_Section):
    start_back: Optional[StartBack] = None


class Notes(_Section):
    presenting: Optional[Text] = None
    pmh: Optional[Text] = None
    dh: Optional[Text] = None
    sh: Optional[Text] = None
    goals: Optional[Text] = None
    investigations: Optional[Text] = None  # results of the imaging and tests done, as reported


_FILE_HASH = re.compile("sha256:[0-9a-f]{64}")


def _file_hash(value: str) -> str:
    if _FILE_HASH.fullmatch(value) is None:
        raise ValueError(f"expected sha256: and 64 lower-case hex digits, got {value!r}")
    return value


FileHash = Annotated[str, AfterValidator(_file_hash)]


class FollowUpOf(_Section):
    """Extension to lbp-case/1 (optional): this case is a follow-up visit of an earlier case.

    `id` and `assessed_on` of the earlier case, the SHA-256 of its file as it was read
    (`sha256:<64 hex>`, to find it again and to know whether it changed since), the rules
    version it was assessed with (from its file's header, when known), and `carried_over`:
    the questions whose earlier answers were kept without being asked at this visit
    (a follow-up without a terminal). Red-flag screening answers are never carried over.
    """

    id: Identifier = Field(min_length=1, max_length=80)
    assessed_on: Optional[dt.date] = Field(None, strict=False)
    file_hash: Optional[FileHash] = None
    rules_version: Optional[Line] = Field(None, min_length=1, max_length=200)
    carried_over: Optional[Lines] = Field(None, max_length=200)  # question ids: one line each


class Expected(_Section):
    classification: Optional[Classification] = None
    urgency: Optional[Urgency] = None
    conditions: Optional[Lines] = None


class Case(_Section):
    """One patient's subjective history for one episode (`lbp-case/1`)."""

    format: Literal["lbp-case/1"]
    id: Identifier = Field(min_length=1, max_length=80)
    assessed_on: Optional[dt.date] = Field(None, strict=False)
    # Extension to lbp-case/1 (optional): when the assessment began, with its UTC offset; its
    # date is `assessed_on` (a case that gives both must agree).
    assessed_at: Optional[Moment] = None
    assessor: Optional[Line] = None
    patient: Optional[Patient] = None
    pain: Optional[Pain] = None
    onset: Optional[Onset] = None
    behaviour: Optional[Behaviour] = None
    walking: Optional[Walking] = None
    neuro: Optional[Neuro] = None
    cauda_equina: Optional[CaudaEquina] = None
    systemic: Optional[Systemic] = None
    history: Optional[History] = None
    obstetric: Optional[Obstetric] = None
    medication: Optional[Medication] = None
    investigations: Optional[Investigations] = None
    treatment: Optional[TreatmentSoFar] = None
    social: Optional[Social] = None
    function: Optional[Function] = None
    progression: Optional[Progression] = None
    psychosocial: Optional[Psychosocial] = None
    notes: Optional[Notes] = None
    vignette: Optional[Text] = None
    # Extension to lbp-case/1 (optional): where the vignette states each fact, as
    # `fact path: words quoted from the vignette`. Practice offers only these facts.
    vignette_mentions: Optional[dict[str, Line]] = None
    # Extension to lbp-case/1 (optional): the earlier visit this one follows (FollowUpOf).
    follow_up_of: Optional[FollowUpOf] = None
    expected: Optional[Expected] = None
    # Not part of the case file: what its reader had to say about the source (a FHIR form saved
    # in progress). Every assessment of the case lists them under `warnings`.
    _reading_warnings: list[str] = PrivateAttr(default_factory=list)
    # Not part of the case file: the status of the FHIR form the case was read from when the form
    # was not finished (`in-progress`, `stopped`); an export of the case carries it on.
    _source_status: Optional[str] = PrivateAttr(default=None)

    @property
    def reading_warnings(self) -> list[str]:
        return self._reading_warnings

    @property
    def source_status(self) -> Optional[str]:
        """`in-progress` or `stopped` for a case read from a FHIR form saved before it was finished;
        else None (a case file, a completed form)."""
        return self._source_status

    def to_data(self) -> dict[str, Any]:
        """Plain data for writing a case file: unknown facts and empty sections left out."""
        return self.model_dump(mode="json", exclude_none=True)


# --------------------------------------------------------------------------- the fast schema


#: A struct's fields (msgspec works them out from its annotations at every call).
_fields = functools.lru_cache(maxsize=None)(msgspec.structs.fields)


def _struct(model: type[BaseModel], path: str, validators: list[tuple[str, str, Any]],
            value_validators: list[tuple[str, str, Any]]) -> Any:
    """A msgspec Struct with the same fields, types, limits and (collected) validators as `model`:
    `validators` of fields, `value_validators` of each value of a mapping field (msgspec reads
    neither: they are run by `_keys_given`)."""
    fields: list[tuple[Any, ...]] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        args = get_args(annotation)
        nested = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        optional = get_origin(annotation) is Union and type(None) in args
        if nested:
            kind: Any = _struct(nested[0], f"{path}{name}.", validators, value_validators)
        else:
            kind = [a for a in args if a is not type(None)][0] if optional else annotation
            if get_origin(kind) is Annotated:  # validators live in Annotated types: run them too
                kind, *extras = get_args(kind)
                section = path.rstrip(".")
                validators += [(section, name, e.func) for e in extras if isinstance(e, AfterValidator)]
            validators += [(path.rstrip("."), name, m.func) for m in info.metadata if isinstance(m, AfterValidator)]
            if get_origin(kind) is dict and get_origin(get_args(kind)[1]) is Annotated:  # dict[str, Line]
                value_validators += [(path.rstrip("."), name, e.func) for e in get_args(get_args(kind)[1])[1:]
                                     if isinstance(e, AfterValidator)]
            elif any(isinstance(e, AfterValidator) for e in _metadata_within(kind)):  # pragma: no cover
                raise TypeError(f"a validator inside {name}: {kind!r} is not run by the fast reader")  # model change
            limits = {}
            for meta in info.metadata:
                for key in ("ge", "le", "min_length", "max_length"):
                    if getattr(meta, key, None) is not None:
                        limits[key] = getattr(meta, key)
            if limits:
                kind = Annotated[kind, msgspec.Meta(**limits)]
        if optional:
            kind = Optional[kind]
        fields.append((name, kind) if info.is_required() else (name, kind, None))
    return msgspec.defstruct(f"{model.__name__}Fast", fields, forbid_unknown_fields=True, gc=False)


def _metadata_within(kind: Any) -> list[Any]:
    """The Annotated metadata anywhere inside a type's arguments (list[Annotated[str, ...]])."""
    found = []
    for arg in get_args(kind):
        if get_origin(arg) is Annotated:
            found += list(get_args(arg)[1:])
        found += _metadata_within(arg)
    return found


_FAST_VALIDATORS: list[tuple[str, str, Any]] = []  # (section, field, validator)
_FAST_VALUE_VALIDATORS: list[tuple[str, str, Any]] = []  # (section, mapping field, validator of each value)
#: Case data as msgspec Structs: the same rules as `Case` at a fraction of the cost.
#: Batch scoring reads cases this way; any case refused here is read again through
#: `Case` for its located message (and scored, should `Case` accept it).
CASE_STRUCT: Any = _struct(Case, "", _FAST_VALIDATORS, _FAST_VALUE_VALIDATORS)
_DECODE_JSON = msgspec.json.Decoder(CASE_STRUCT).decode
#: An empty struct per section, standing in for a section the case leaves out
#: (sections with a required field, such as follow_up_of, have none).
EMPTY_SECTIONS: dict[str, Any] = {
    f.name: kind() for f in _fields(CASE_STRUCT) for kind in get_args(f.type)
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct)
    and not any(g.required for g in _fields(kind))
}


#: What the fast reading of a case raises when the case is not valid (read it precisely).
_REFUSED = (msgspec.ValidationError, msgspec.DecodeError, ValueError)


def _fast(read: Any, source: Any, plain: bool = False) -> tuple[Any, int] | None:
    """(the case read by `read`, how many different keys it gives a value), or None when it is
    not a valid case: the decoder refuses it, a validator does, or it cannot be (`_possible`).
    `plain`: see `_count_lines`."""
    try:
        case = read(source)
        given = _keys_given(case, plain)  # and every validator, on the way
    except _REFUSED:
        return None
    return (case, given) if _possible(case) else None


def _possible(case: Any) -> bool:
    """A fast case that the fast reading may keep: not `implausible`, and its time not one that
    may have been rounded."""
    at = case.assessed_at
    if at is not None and not (at.hour or at.minute or at.second or at.microsecond):
        return False  # msgspec rounds digits past the microsecond (pydantic cuts them): a time that reads
        # as midnight may be the evening before (23:59:59.9999995); the case model decides
    return (case.follow_up_of is None and case.patient is None and at is None) or implausible(case) is None


_DAYS_A_YEAR = 365.25


def implausible(case: Any) -> tuple[tuple[str, ...], str] | None:
    """A case whose answers cannot all be true of one visit: (field path, why), else None.
    Works on a `Case` and on its fast struct alike. These are limits of what can be (a visit
    does not follow itself, symptoms do not begin before birth), not clinical thresholds."""
    at = case.assessed_at
    if at is not None and case.assessed_on is not None and at.date() != case.assessed_on:
        return (("assessed_at",), f"the assessment time ({at.isoformat()}) is not on the assessment date "
                                  f"({case.assessed_on})")
    record = case.follow_up_of
    if record is not None:
        if record.id == case.id:
            return ("follow_up_of", "id"), "a visit cannot be a follow-up of itself (the same id)"
        if record.assessed_on is not None and case.assessed_on is not None and record.assessed_on > case.assessed_on:
            return (("follow_up_of", "assessed_on"), f"the previous visit ({record.assessed_on}) is dated after "
                                                     f"this visit ({case.assessed_on}); a follow-up comes later")
    age = case.patient.age if case.patient is not None else None
    if age is None:
        return None
    return before_birth(age, case.onset.weeks_ago if case.onset is not None else None,
                        case.cauda_equina.onset_days if case.cauda_equina is not None else None)


def before_birth(age: int | None, weeks_ago: float | None, onset_days: float | None
                 ) -> tuple[tuple[str, str], str] | None:
    """Symptoms said to have begun before the patient was born: (field path, why), else None."""
    if age is None:
        return None
    lived = (age + 1) * _DAYS_A_YEAR  # the most days a patient of this age can have lived
    if onset_days is not None and onset_days > lived:
        return ("cauda_equina", "onset_days"), f"{onset_days:g} days ago is before the patient was born (age {age})"
    if weeks_ago is not None and weeks_ago * 7 > lived:
        return ("onset", "weeks_ago"), f"{weeks_ago:g} weeks ago is before the patient was born (age {age})"
    return None


def _bare(kind: Any) -> Any:
    """A field's type without Optional and Annotated."""
    args = [a for a in get_args(kind) if a is not type(None)]
    if get_origin(kind) is Union and len(args) == 1:
        kind = args[0]
    return get_args(kind)[0] if get_origin(kind) is Annotated else kind


def _nested(kind: Any) -> Any:
    """The struct a field holds, or None."""
    kind = _bare(kind)
    return kind if isinstance(kind, type) and issubclass(kind, msgspec.Struct) else None


def _keys_source(struct: Any) -> tuple[str, dict[str, Any]]:
    """`keys_given(case, plain=False)`: how many different keys of a fast case hold a value (not
    null), at every level, a mapping's keys included; on the way, the validators of _FAST_VALIDATORS
    and _FAST_VALUE_VALIDATORS (a refusal is a ValueError). (source, the names it calls)"""
    lines, names = _count_lines(struct, "c", "    ")
    return "\n".join(["def keys_given(c, plain=False):", *lines, "    return _rn"]) + "\n", names


def _count_lines(struct: Any, root: str, indent: str, wanted: Mapping[str, str] | None = None
                 ) -> tuple[list[str], dict[str, Any]]:
    """Source lines that count into `_rn` the different keys of the fast case `root` that hold a
    value and run the validators on the way, each behind a quick test that passes what it would
    pass (printable text, a finite number), so an ordinary case calls none of them. `plain` (a name
    the lines read): the case was read from bytes proved to be ASCII with no backslash or DEL, so all
    its texts are printable (JSON holds no raw control character): their printable tests are then
    skipped, and a mapping's values not read. `wanted`: fields (`section.field`, or a top-level
    name) to leave in the named locals as read, None when the case leaves them out.

    Each field read once, no loop: each field is counted as given, and one taken off when it is
    found absent (most fields of a case are given, and a test with no sum is quicker for them).
    It runs for every case read the fast way. (lines, the names they call)"""
    wanted = wanted or {}
    quick = {_line: "{v}.isprintable()", _lines: "''.join({v}).isprintable()",
             _text: f"((plain or {{v}}.isprintable()) and len({{v}}) <= {MAX_TEXT_CHARS})",
             _finite: "{v} - {v} == 0",
             # printable ASCII holds no blank but the space: strip(' ') takes off what strip() would
             _identifier: "((plain or ({v}.isascii() and {v}.isprintable())) and {v}.strip(' ') == {v})",
             _adult: f"{AGE_RANGE[0]!r} <= {{v}} <= {AGE_RANGE[1]!r}"}
    printable_passes = {_line}  # validators that pass any printable text (_text: not a long one)
    checks: dict[tuple[str, str], list[Any]] = {}
    for section, name, fn in _FAST_VALIDATORS:
        checks.setdefault((section, name), []).append(fn)
    value_checks: dict[tuple[str, str], list[Any]] = {}
    for section, name, fn in _FAST_VALUE_VALIDATORS:
        value_checks.setdefault((section, name), []).append(fn)
    names: dict[str, Any] = {}
    lines: list[str] = []
    placed: set[str] = set()

    def validated(v: str, fns: list[Any], indent: str) -> None:
        for fn in fns:
            names[f"_r{fn.__name__}"] = fn
            if fn in quick:  # validators that pass any printable text are not called for a plain case
                skip = "not plain and " if fn in (_line, _lines) else ""
                lines.extend([f"{indent}if {skip}not {quick[fn].format(v=v)}:", f"{indent}    _r{fn.__name__}({v})"])
            else:
                lines.append(f"{indent}_r{fn.__name__}({v})")

    def walk(holder: str, kind: Any, indent: str, depth: int, path: str) -> None:
        given, absent, checked, inner = 0, [], [], []
        for f in _fields(kind):
            value = f"{holder}.{f.name}"
            into = wanted.get(f"{path}.{f.name}" if path else f.name)
            nested = _nested(f.type) is not None
            if into is not None:
                if nested:  # a section holds fields: it is not a value read into one local
                    raise ValueError(f"not a field of a case: {path + '.' if path else ''}{f.name} is a section")
                placed.add(into)
            fns = checks.pop((path, f.name), None)
            given += 1  # taken off below if absent; a section where it is read (inner)
            if fns is not None:  # read once: counted where it is checked
                checked.append((value, fns, f.required, into))
            elif f.required:
                if into is not None:
                    absent.append(f"{into} = {value}")
            elif not nested:
                read = value if into is None else f"({into} := {value})"
                absent.extend([f"if {read} is None:", "    _rn -= 1"])
            if nested:
                inner.append((value, _nested(f.type), f"{path}.{f.name}" if path else f.name))
            elif get_origin(_bare(f.type)) is dict:
                inner.append((value, dict, f.name))
        lines.append(f"{indent}_rn {'+' if depth else ''}= {given}")
        lines.extend(f"{indent}{line}" for line in absent)
        for value, fns, required, into in checked:
            v = into or "_rv"
            lines.append(f"{indent}if ({v} := {value}) is not None:")
            validated(v, fns, indent + "    ")
            if not required:
                lines.extend([f"{indent}else:", f"{indent}    _rn -= 1"])
        for value, kind_, inner_path in inner:
            if kind_ is dict:
                lines.extend([f"{indent}if (_rm := {value}):", f"{indent}    _rn += len(_rm)"])
                fns = value_checks.pop((path, inner_path), [])
                if fns:
                    skip = "not plain and " if all(fn in printable_passes for fn in fns) else ""
                    quick_all = all(fn in quick and quick[fn] == "{v}.isprintable()" for fn in fns)
                    test = "not ''.join(_rm.values()).isprintable()" if quick_all else "True"
                    lines.extend([f"{indent}    if {skip}{test}:", f"{indent}        for _rv in _rm.values():"])
                    for fn in fns:
                        names[f"_r{fn.__name__}"] = fn
                        lines.append(f"{indent}            _r{fn.__name__}(_rv)")
                continue
            part = f"_rs{depth}"
            left = [into for field, into in wanted.items() if field.startswith(f"{inner_path}.")]
            lines.append(f"{indent}if ({part} := {value}) is not None:")
            walk(part, kind_, indent + "    ", depth + 1, inner_path)
            lines.extend([f"{indent}else:", f"{indent}    _rn -= 1"])  # the section left out
            if left:  # and so its wanted fields unknown
                lines.append(f"{indent}    {' = '.join(left)} = None")

    walk(root, struct, indent, 0, "")
    if checks or value_checks:  # pragma: no cover - a validator on a field the walk did not reach (a model change)
        raise TypeError(f"validators not placed: {sorted(checks) + sorted(value_checks)}")
    if set(wanted.values()) - placed:
        raise ValueError(f"not fields of a case: {sorted(f for f, v in wanted.items() if v not in placed)}")
    return lines, names


def _colons_source(struct: Any) -> str:
    """`text_colons(case)`: the colons of a fast case's texts (keys and values of mappings, items of
    lists), and two for each time (the decoder reads a time only with HH:MM:SS): as written in JSON
    without escapes, its texts hold at least these."""
    lines = ["def text_colons(c):", "    n = 0"]

    def plain(kind: Any) -> bool:  # a type whose values never hold a colon
        kind = _bare(kind)
        if get_origin(kind) is Literal:
            return all(":" not in str(v) for v in get_args(kind))
        return kind in (bool, int, float, dt.date)

    def walk(holder: str, kind: Any, indent: str, depth: int) -> None:
        for f in _fields(kind):
            value, kind_ = f"{holder}.{f.name}", _bare(f.type)
            test = f"{indent}if (x := {value}) is not None:"
            inner = _nested(f.type)
            if inner is not None:
                part = f"s{depth}"
                before = len(lines)
                lines.append(f"{indent}if ({part} := {value}) is not None:")
                walk(part, inner, indent + "    ", depth + 1)
                if len(lines) == before + 1:
                    lines.pop()
            elif kind_ is dt.datetime:
                lines.extend([test, f"{indent}    n += 2"])
            elif kind_ is str or (get_origin(kind_) is Literal and not plain(kind_)):
                lines.extend([test, f"{indent}    n += x.count(':')"])
            elif get_origin(kind_) is list:
                if not plain(get_args(kind_)[0]):
                    lines.extend([test, f"{indent}    n += ''.join(x).count(':')"])
            elif get_origin(kind_) is dict:
                lines.extend([test, f"{indent}    n += ''.join(x).count(':') + ''.join(x.values()).count(':')"])
            elif not plain(kind_):
                raise TypeError(f"no colon count for {value}: {f.type!r}")  # pragma: no cover - model change

    walk("c", struct, "    ", 0)
    return "\n".join(lines + ["    return n"]) + "\n"


def _compile(source: str, name: str, **names: Any) -> Any:
    exec(compile(source, f"<{name}>", "exec"), names)  # noqa: S102 - generated from the model
    return names[name]


_KEYS_SOURCE, _VALIDATORS = _keys_source(CASE_STRUCT)
_keys_given = _compile(_KEYS_SOURCE, "keys_given", **_VALIDATORS)
_text_colons = _compile(_colons_source(CASE_STRUCT), "text_colons")


def _null_paths(struct: Any) -> dict[bytes, tuple[tuple[str, ...], ...]]:
    """Every field that may be given as null, by its key: the attribute paths that hold it."""
    paths: dict[bytes, list[tuple[str, ...]]] = {}

    def walk(kind: Any, path: tuple[str, ...]) -> None:
        for f in _fields(kind):
            if not f.required:
                paths.setdefault(f.name.encode(), []).append(path + (f.name,))
            if _nested(f.type) is not None:
                walk(_nested(f.type), path + (f.name,))

    walk(struct, ())
    return {key: tuple(found) for key, found in paths.items()}


_NULL_PATHS = _null_paths(CASE_STRUCT)
_TIME_KEYS = tuple(f'"{f.name}"'.encode() for f in _fields(CASE_STRUCT)
                   if _bare(f.type) is dt.datetime)


def _null_keys(raw: bytes, case: Any, enough: int) -> int | None:
    """How many nulls the line gives, when each is proved the value of a different key whose field
    the case holds as None: else None (no proof). A `null` is taken for a key's value only after
    `"<field name>"` and a colon, the quote unescaped: a text cannot hold that (a quote in a text is
    escaped), nor can a text's opening quote be preceded by a field name's letters. The search
    stops at the `enough`-th null proved (the rest of the line is not searched): each proved null
    is a key of its own, so `enough` of them already complete the count."""
    names: list[bytes] = []
    at = raw.find(b"null")
    while at >= 0:
        colon = at - 1
        while raw[colon] in b" \t\r\n":
            colon -= 1
        close = colon - 1
        while raw[close] in b" \t\r\n":
            close -= 1
        if raw[colon] != 58 or raw[close] != 34 or raw[close - 1] == 92:  # ':', '"', '\\'
            return None
        name = raw[raw.rfind(b'"', 0, close) + 1:close]
        if name not in _NULL_PATHS or name in names:
            return None
        for path in _NULL_PATHS[name]:  # a key given null and also with a value: not proved
            value = case
            for part in path:
                value = getattr(value, part)
                if value is None:
                    break
            if value is not None:
                return None
        names.append(name)
        if len(names) == enough:
            break
        at = raw.find(b"null", at + 4)
    return len(names)


def _time_colons(raw: bytes) -> int:
    """How many colons over two the times of a line without escapes hold (`text_colons` counts two
    for each): a time's key written once is the time's key (a text holding it would be escaped)."""
    extra = 0
    for key in _TIME_KEYS:
        if raw.count(key) != 1:
            continue
        start = raw.find(b'"', raw.find(b":", raw.find(key) + len(key)) + 1) + 1
        text = raw[start:raw.find(b'"', start)]
        if b"\\" not in text:
            extra += max(text.count(b":") - 2, 0)
    return extra


def plain_bytes(raw: bytes) -> bool:
    """JSON bytes whose every text is printable ASCII: no byte over 127, no backslash (escape)
    and no DEL (JSON holds no other raw control character). For `fast_json(raw, plain=...)`."""
    return raw.isascii() and b"\\" not in raw and b"\x7f" not in raw


def fast_json(raw: bytes, plain: bool = False) -> Any:
    """A JSON case as a CASE_STRUCT, or None when it is not a valid case (read it precisely).
    `plain`: the caller has proved `plain_bytes(raw)` (of a block of lines holding it, say).

    The decoder keeps the last of a key given twice, so a case is returned only when no key
    can have been given twice, proved by counting colons. Each occurrence of a key is followed
    by one colon (blanks between them or not); the line's other colons are in its texts. The
    case holds `_keys_given` different keys with a value; if the line holds no more colons than
    that, plus the fewest its texts can hold (`_text_colons`, less any escape that may have
    written one), plus one for each null proved the value of a different key left None
    (`_null_keys`), then every key occurs once. A line none of this proves is read again keeping
    every key (json, object_pairs_hook), which finds a duplicate or proves there is none.
    """
    if len(raw) > MAX_NODES:  # may hold more values than a case file may (a value takes a byte at least)
        return None
    read = _fast(_DECODE_JSON, raw, plain)
    if read is None:
        return None
    case, given = read
    colons = raw.count(b":")
    return case if colons == given or _proved(raw, case, given, colons) else None  # most lines: equal


def _proved(raw: bytes, case: Any, given: int, colons: int) -> bool:
    """For a line holding `colons` colons, more or fewer than the `given` different keys of the
    case it was read as: whether each key occurs in it once (see `fast_json`)."""
    if colons > given:
        nulls = _null_keys(raw, case, colons - given)  # each a key's occurrence; 0 when the line holds none
        if nulls == colons - given:  # texts hold at least no colon
            return True
        text = _text_colons(case)
        if b"\\" in raw:  # escapes: a text's colon may have been written \u003a
            text -= raw.count(b"\\u003a") + raw.count(b"\\u003A")
        elif case.assessed_at is not None:
            text += _time_colons(raw)
        if colons == given + text or (nulls is not None and colons == given + text + nulls):
            return True
    try:
        json.loads(raw, object_pairs_hook=refuse_duplicates)
    except ValueError:  # a duplicate key (or anything else): the exact reading says which
        return False
    return True


#: What `_possible` reads of a case with no assessment time and no earlier visit (its common
#: case): the facts `before_birth` compares. The generated reader holds them in locals.
BIRTH_FACTS = ("patient.age", "onset.weeks_ago", "cauda_equina.onset_days")


def json_reading(wanted: Mapping[str, str], case: str) -> tuple[list[str], dict[str, Any]]:
    """`fast_json` written out, for a generated function of `raw` (a JSON line) and `plain` (as for
    fast_json) that goes on to use what it read: source lines that read the line into the local
    `case` and each field of `wanted` (`section.field` -> local name) into its local, None when the
    case leaves it out, or return None where fast_json does. Each field is read once, as its key
    is counted (the rule set's row function reads its facts this way). `_possible` is written out
    for its common case (no assessment time, no earlier visit: `before_birth` of the locals), and
    called for the others. (lines, the names they use)"""
    held = {**{field: f"_rb{i}" for i, field in enumerate(("assessed_at",) + BIRTH_FACTS)}, **wanted}
    count, names = _count_lines(CASE_STRUCT, case, "        ", held)
    at, age, weeks, days = (held[field] for field in ("assessed_at",) + BIRTH_FACTS)
    lines = ["    if len(raw) > _r_max:", "        return None",
             "    try:", f"        {case} = _r_decode(raw)", *count,
             "    except _r_refused:", "        return None",
             f"    if {at} is None and {case}.follow_up_of is None:",
             f"        if {age} is not None and _r_before_birth({age}, {weeks}, {days}) is not None:",
             "            return None",
             f"    elif not _r_possible({case}):",
             "        return None",
             f"    if (_rc := raw.count(b':')) != _rn and not _r_proved(raw, {case}, _rn, _rc):",
             "        return None"]
    return lines, {**names, "_r_max": MAX_NODES, "_r_decode": _DECODE_JSON, "_r_refused": _REFUSED,
                   "_r_possible": _possible, "_r_proved": _proved, "_r_before_birth": before_birth}


def fast_convert(data: Any) -> Any:
    """Parsed case data as a CASE_STRUCT, or None when it is not a valid case (read it precisely).
    `data` is plain, as the readers give it (base.yamlio: dict, list, str, int, float, bool, None):
    msgspec would take a set or tuple for a list, which the case model refuses."""
    read = _fast(_convert, data)
    return None if read is None else read[0]


def _convert(data: Any) -> Any:
    return msgspec.convert(data, CASE_STRUCT)


# --------------------------------------------------------------------------- vocabulary

#: Sections that hold clinical facts (the rule and question vocabulary).
FACT_SECTIONS = (
    "patient", "pain", "onset", "behaviour", "walking", "neuro", "cauda_equina",
    "systemic", "history", "obstetric", "medication", "investigations", "treatment", "social", "function",
    "progression", "psychosocial",
)


@dataclass(frozen=True)
class FactType:
    """The type of one fact, as rules and questions see it."""

    path: str
    kind: str  # bool | int | number | enum | set | text | int_list
    values: tuple[str, ...] = ()  # enum/set values
    minimum: float | None = None
    maximum: float | None = None
    length: int | None = None  # int_list: how many items every valid case has


def _fact_type(path: str, annotation: Any, field: Any) -> FactType:
    args = [a for a in get_args(annotation) if a is not type(None)]
    inner = args[0] if get_origin(annotation) is Union and args else annotation
    if get_origin(inner) is Annotated:
        inner = get_args(inner)[0]
    lo = hi = None
    for meta in getattr(field, "metadata", ()):
        lo = getattr(meta, "ge", lo)
        hi = getattr(meta, "le", hi)
    if inner is bool:
        return FactType(path, "bool")
    if inner is int:
        if path == "patient.age":
            lo, hi = AGE_RANGE
        return FactType(path, "int", minimum=lo, maximum=hi)
    if inner is float:
        return FactType(path, "number", minimum=lo, maximum=hi)
    if inner is str:
        return FactType(path, "text")
    if get_origin(inner) is Literal:
        return FactType(path, "enum", tuple(get_args(inner)))
    if get_origin(inner) is list:
        (item,) = get_args(inner)
        if get_origin(item) is Literal:
            return FactType(path, "set", tuple(get_args(item)))
        return FactType(path, "int_list", length=START_BACK_ITEMS if path == "psychosocial.start_back" else None)
    raise TypeError(f"no fact type for {path}: {annotation!r}")  # pragma: no cover - model bug


def _build_vocabulary() -> dict[str, FactType]:
    facts: dict[str, FactType] = {}
    for section in FACT_SECTIONS:
        model = Case.model_fields[section].annotation
        model = [a for a in get_args(model) if a is not type(None)][0]
        for name, field in model.model_fields.items():
            path = f"{section}.{name}"
            facts[path] = _fact_type(path, field.annotation, field)
    return facts


FACTS: dict[str, FactType] = _build_vocabulary()
_FACT_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (section, tuple(p.split(".", 1)[1] for p in FACTS if p.startswith(section + ".")))
    for section in FACT_SECTIONS
)
_SET_FACTS = frozenset(p for p, t in FACTS.items() if t.kind == "set")


def facts_of(case: Case) -> dict[str, Any]:
    """The flat fact dictionary rules are evaluated on: `{"pain.leg_side": "right", ...}`.

    Unknown facts are `None`; multiple-choice facts become frozensets.
    """
    flat: dict[str, Any] = {}
    for section, names in _FACT_FIELDS:
        part = getattr(case, section)
        if part is None:
            for name in names:
                flat[f"{section}.{name}"] = None
        else:
            for name in names:
                flat[f"{section}.{name}"] = getattr(part, name)
    for path in _SET_FACTS:
        if flat[path] is not None:
            flat[path] = frozenset(flat[path])
    return flat


# --------------------------------------------------------------------------- loading


def validate_case(data: Any, name: str, text: str | None = None, line: int | None = None) -> Case:
    """Validate parsed data as `lbp-case/1`; errors carry file, line and field path. (Every
    reader of case files also takes a FHIR QuestionnaireResponse: inputs.cases.validate_any.)"""
    if data is None:
        # a line of JSON Lines (blank ones are skipped) or a file that says null: not an empty file
        null = text.strip() in ("null", "~") if text is not None else line is not None
        said = "expected a mapping of case fields, got null" if null else "empty file, expected an lbp-case/1 case"
        raise InputError.from_problems([Problem(Location(name, line), said)])
    if not isinstance(data, dict):
        raise InputError.from_problems(
            [Problem(Location(name, line), f"expected a mapping of case fields, got {_kind(data)}")]
        )
    fmt = data.get("format")
    if fmt == DRAFT_FORMAT:  # left beside the cases by an interview not finished: never skipped unseen, as
        # its answers may raise a red flag no saved case or note holds yet (an error row, found in a folder too)
        raise InputError.from_problems([Problem(Location(name, *_locator(text, line)(("format",))),
                                                "a consultation's draft (lbp-draft/1), not a case: an unfinished "
                                                "consultation, whose answers may not all be saved; finish it with "
                                                f"`lbp-assess assess --resume {shlex.quote(name)}`", "format")])
    if fmt != FORMAT:
        locate = _locator(text, line)
        where = Location(name, *(locate(("format",)) if fmt is not None else (line, None)))
        message = (
            f"missing `format: {FORMAT}`; is this an lbp-assess case file?"
            if fmt is None
            else f"format {_echo(fmt)} is not supported; expected {FORMAT!r}"
        )
        raise InputError.from_problems([Problem(where, message, None if fmt is None else "format")])
    try:
        case = Case.model_validate(data)
    except ValidationError as exc:
        raise InputError.from_problems(problems_from(exc, name, text, line)) from None
    found = implausible(case)
    if found is not None:
        path, message = found
        raise InputError.from_problems([Problem(Location(name, *_locator(text, line)(path)), message,
                                                ".".join(path))])
    return case


def _locator(text: str | None, line: int | None):
    if line is not None or text is None:
        return lambda path, key=False: (line, None)
    locator = Locator(text)
    return locator.find


def problems_from(exc: ValidationError, name: str, text: str | None, line: int | None = None,
                  model: type[BaseModel] = Case) -> list[Problem]:
    """Turn pydantic errors into one-line problems with locations and did-you-mean."""
    locate = _locator(text, line)
    problems = []
    for err in exc.errors(include_url=False):
        path = tuple(err["loc"])
        field = ".".join(str(p) for p in path)
        pos = locate(path, key=err["type"] == "extra_forbidden")
        problems.append(Problem(Location(name, *pos), _message(err, path, model), field))
    return problems


def _model_at(model: type[BaseModel], path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that holds the last element of `path` (for did-you-mean on keys)."""
    current: Any = model
    for part in path[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", {})
        if part not in fields:
            return None
        annotation = fields[part].annotation
        candidates = [annotation, *get_args(annotation)]
        for cand in candidates:
            for inner in (cand, *get_args(cand)):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    current = inner
                    break
            else:
                continue
            break
        else:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _message(err: dict[str, Any], path: tuple[Any, ...], model: type[BaseModel]) -> str:
    kind, value = err["type"], err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        holder = _model_at(model, path)
        known = list(holder.model_fields) if holder else []
        from ..base.text import plain_name, shorten

        return f"unknown field `{plain_name(shorten(path[-1]))}`{did_you_mean(str(path[-1]), known)}"
    if kind == "literal_error":
        expected = [v.strip().strip("'") for v in str(ctx.get("expected", "")).replace(" or ", ", ").split(",")]
        expected = [v for v in expected if v]
        hint = did_you_mean(value, expected) if isinstance(value, str) and len(value) < 100 else ""
        return f"{_echo(value)} is not allowed; expected one of: {', '.join(expected)}{hint}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false (or null when not asked), got {_echo(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {_echo(value)}"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, got {_echo(value)}"
    if kind in ("string_type",):
        return f"expected text, got {_echo(value)}"
    if kind in ("list_type",):
        return f"expected a list, got {_echo(value)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of fields, got {_kind(value)}"
    if kind == "missing":
        return "required field is missing"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">", "less_than": "<"}[kind]
        limit = ctx.get("ge", ctx.get("le", ctx.get("gt", ctx.get("lt"))))
        shown = f"{limit:g}" if isinstance(limit, float) else limit
        return f"{_echo(value)} is out of range: must be {bound} {shown}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"is longer than {ctx.get('max_length')} characters"
    if kind in ("date_type", "date_parsing", "date_from_datetime_parsing"):
        return f"expected a date as YYYY-MM-DD, got {_echo(value)}"
    if kind in ("datetime_type", "datetime_parsing", "datetime_from_date_parsing"):
        return f"expected a date and time as YYYY-MM-DDTHH:MM+HH:MM, got {_echo(value)}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"]


def _echo(value: Any) -> str:
    """A value as an error message shows it: its repr (controls escaped), shortened."""
    from ..base.text import shorten

    if isinstance(value, int) and value.bit_length() > 200:  # repr fails past 4,300 digits
        return f"a number of about {value.bit_length() * 3 // 10:,} digits"
    return shorten(repr(value), 60)


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", type(None): "nothing"}.get(type(value), type(value).__name__)
