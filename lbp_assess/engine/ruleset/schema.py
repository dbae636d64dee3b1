"""The rule files as written: pydantic specs of `ruleset.yaml` (the manifest: tiers, classes,
conditions, alerts, findings, classification order, screening) and of the layer files
(definitions, rules, checks). Strict: an unknown field is an error with its location.
Annotations are evaluated as the module loads, as in model/case.py (quicker to start).
"""

import datetime as dt
import re
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field



MANIFEST = "ruleset.yaml"
NOT_RULE_FILES = {MANIFEST, "interview.yaml", "outcomes.yaml"}
_ID = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"
SNAKE = re.compile(r"[a-z][a-z0-9_]*")  # names of definitions, tiers, layers, classes, ...: matched whole


# --------------------------------------------------------------------------- file schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Code(_Strict):
    system: Literal["ICD-10", "SNOMED CT", "LOINC"]
    code: str
    display: str
    verified: bool


class Tier(_Strict):
    label: str
    time_frame: str
    action: str
    show_at_once: bool = False  # interrupt the interview with a live alert panel


#: What a piece of note wording is (`role:`), so that the note can hold it back (policy v7 6).
Role = Literal["reassurance", "review", "activity", "explanation", "pelvic_girdle", "screen", "impression"]

#: The keys of ruleset.yaml `note_wording` the note uses, each with the placeholders it may hold.
NOTE_WORDING = {
    "until_seen": (), "no_driving": (), "not_examined": (),
    "ask_before_leaving": ("questions", "tier", "label"), "provisional_incomplete": ("headline",),
    "provisional_not_excluded": ("headline",), "also_raised": ("raised",), "also_pattern": ("class", "pattern"),
    "to_exclude": ("class", "pattern"), "based_on": ("facts",), "not_yet_known": ("facts",), "unsure": (), "not_asked": (),
    "examination": ("text",), "superseded": ("label",),
    "transport_ambulance": (), "transport_ambulance_when": (), "no_driving_when": (),
    "transport_sepsis": (), "transport_sepsis_when": (),
}
#: Note wording a rule set may leave out (its note then prints no such line).
NOTE_WORDING_OPTIONAL = {"transport_ambulance", "transport_ambulance_when", "no_driving_when", "transport_sepsis",
                         "transport_sepsis_when"}


class Advice(_Strict):
    """One piece of note wording, shown when `when` is known to hold for the case."""

    text: str
    when: Union[str, bool] = True
    # What the piece is, so the note can hold it back where policy v7 6 says (at urgent or
    # emergency: reassurance, review intervals, explanation, pelvic girdle and activity advice;
    # at soon: reassurance; ruleset.yaml `note_hold_back`). `screen`: a prompt to finish the screen
    # (the note's own questions replace it at urgent or emergency); `impression`: shown with its
    # item's line in the Impression, never in the Plan (the STarT Back score with its stratum).
    # None: always shown with its item.
    role: Optional[Role] = None
    # A list item under the piece before it that ends with a colon ("Go to the emergency department
    # immediately if you get any of these:"): the note nests it under that piece.
    item: bool = False


#: Note wording: one text for every case, or pieces chosen by conditions in the rule language.
Wording = Union[str, list[Advice]]


class Named(_Strict):
    label: str
    short: Optional[str] = None  # a short name (classes: "Radicular"), for explain and tables
    description: Optional[str] = None
    codes: list[Code] = []
    advice: Optional[Wording] = None  # management text for the note
    examination: Optional[str] = None  # suggested objective examination for the note
    # The note's Impression headline when this alert governs or names the pattern (policy v7 6.5):
    # `pattern` names the pattern instead of the class; `to_exclude` follows the class when it governs.
    headline: Optional[Wording] = None
    headline_use: Literal["pattern", "to_exclude"] = "pattern"
    # An alert left out of the Summary and Plan when this holds (a higher-tier row covers the
    # same feature), named in the full note as "superseded by <superseded_label>".
    superseded_when: Optional[str] = None
    superseded_label: Optional[str] = None


class SafetyNetLine(Advice):
    """One line of a safety-net block (policy v7 7). Besides its `when:`, a line declares what it is
    about, so that one mechanism keeps the blocks from contradicting each other:

    - `about`: conditions in the rule language naming the symptoms the line tells the patient to
      act on. The line is left out when one of them is known to hold: the patient is never told to
      seek review for what they already have (a "gets worse" line says that instead).
    - `covered_by`: other blocks that already say this, more strongly: the line is left out when
      one of them is given in the same note.
    - `stronger`: tier -> the line's wording when the note's urgency, or what a yes to one of its
      `about` yes/no facts would newly raise, reaches that tier (the rules decide, re-assessed
      with that answer yes): the safety-net is never weaker than the note's own rows.
    """

    about: list[str] = []
    covered_by: list[str] = []
    stronger: dict[str, str] = {}


class SafetyNetBlock(_Strict):
    """A safety-net block in patient words (the `ces` card, `mscc`, `sepsis`, ...): given when a
    fired rule names it in its `safety_net`, or when `given_when` is known to hold; each line of
    `text` is shown when its own `when:` holds and none of its `about` is known to hold, and is
    left out when a block in its `covered_by` is given (SafetyNetLine)."""

    title: str
    given_when: Union[str, bool] = False
    text: Union[str, list[SafetyNetLine]]


class Settled(_Strict):
    """An unknown fact that other answers settle (`obstetric.pregnant` for a patient registered
    male at birth): taken as `value` when `when` is known to hold. A recorded answer is never
    overridden."""

    when: str
    value: bool = False
    because: str


class ClassRule(_Strict):
    class_: str = Field(alias="class")
    when: Union[str, bool]


class Manifest(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    version: str
    title: str
    description: Optional[str] = None
    disclaimer: str
    layers: dict[str, str]
    tiers: dict[str, Tier]
    classes: dict[str, Named]
    conditions: dict[str, Named]
    alerts: dict[str, Named]
    findings: dict[str, Named]
    classification: list[ClassRule] = Field(min_length=1)
    screening: list[str] = Field(min_length=1)
    flags_noted: list[str] = []  # definitions listed in the note as "flags noted" when true
    # Screening questions shown together in the note ("Cauda equina screen: negative (6/6 asked)").
    screens: dict[str, list[str]] = {}
    # Lines the note adds under a screen when their `when:` holds (the bladder line in pregnancy).
    screen_notes: dict[str, Wording] = {}
    # Unknown facts other answers settle (policy v7: obstetric facts for men and above an age).
    settled: dict[str, Settled] = {}
    # The order the note prints rule actions in, soonest first: timing key -> what it means.
    timings: dict[str, str] = {}
    # Safety-net blocks by name; rules name the blocks their case needs (`safety_net: [ces]`).
    safety_net_blocks: dict[str, SafetyNetBlock] = {}
    # Fixed note wording the rule set owns (headings of plan items and the like): key -> text.
    note_wording: dict[str, str] = {}
    # Advice pieces the note holds back, by role (policy v7 6): under the governing tier's name,
    # and under `provisional` when the screen is incomplete or a higher tier was not excluded.
    note_hold_back: dict[str, list[Role]] = {}
    safety_net: Optional[Wording] = None  # before policy v7: one list of safety-net pieces
    # Facts and definitions an export charts as FHIR Observations (pain and STarT Back scores),
    # with standard codes where they exist; also labels and codes for the red-flag screen's answers,
    # which are always charted (screening and screens).
    observations: dict[str, Named] = {}


class ChecklistItem(_Strict):
    """One feature a checklist names: present when `when` holds, absent when it is known not to,
    not known otherwise (no `when`: the history cannot say; `examine`: found on examination)."""

    label: str
    when: Optional[Union[str, bool]] = None
    examine: bool = False


class Checklist(_Strict):
    """Features a rule's action asks the note to list (policy v7 2.4: which NICE NG234 features of
    spinal metastases are present), with the note's words for each group."""

    title: str
    present: str  # "present"
    unknown: str  # "not known"
    examine: str  # "to examine"
    none: str  # what "present" shows when none is
    items: list[ChecklistItem]


class RuleSpec(_Strict):
    id: str = Field(pattern=_ID)
    when: Union[str, bool]
    condition: Optional[str] = None
    alert: Optional[str] = None
    finding: Optional[str] = None
    tier: Optional[str] = None
    reason: str
    source: str
    status: Literal["draft", "reviewed", "retired"]
    reviewed: Optional[dt.date] = Field(None, strict=False)
    # What the note prints for this rule (policy v7 2.4): required for every rule with a tier.
    label: Optional[str] = None  # the rule's own label in the note ("Suspected cauda equina syndrome")
    time_frame: Optional[str] = None  # its own time frame ("now (within hours)", "GP within 1 week")
    timing: Optional[str] = None  # a ruleset.yaml `timings` key: orders actions in the Plan
    action: Optional[str] = None  # service and action
    examination: Optional[str] = None  # examination advice ("" when none is needed beyond the class's)
    safety_net: Optional[list[str]] = None  # names of ruleset.yaml `safety_net_blocks` ([] for none)
    checklist: Optional[Checklist] = None  # features the note lists as present, not known or to examine


#: The per-rule fields a rule with a tier must carry (`rules check` refuses one without them).
ACTION_FIELDS = ("label", "time_frame", "timing", "action", "examination", "safety_net")


class DefinitionSpec(_Strict):
    when: Union[str, bool]
    means: Optional[str] = None


class CheckSpec(_Strict):
    id: str = Field(pattern=_ID)
    when: str
    message: str


class RuleFile(_Strict):
    """The outline of a rule file; each rule and check is validated on its own,
    so one bad rule reports itself without hiding the rest of the file."""

    layer: Optional[str] = None
    description: Optional[str] = None
    definitions: dict[str, Union[str, bool, DefinitionSpec]] = {}
    rules: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
