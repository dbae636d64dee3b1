"""The rule files as written: pydantic specs of `ruleset.yaml` (the manifest: tiers, classes,
conditions, alerts, findings, classification order, screening) and of the layer files
(definitions, rules, checks). Strict: an unknown field is an error with its location.
"""

from __future__ import annotations

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


class Advice(_Strict):
    """One piece of note wording, shown when `when` is known to hold for the case."""

    text: str
    when: Union[str, bool] = True


#: Note wording: one text for every case, or pieces chosen by conditions in the rule language.
Wording = Union[str, list[Advice]]


class Named(_Strict):
    label: str
    short: Optional[str] = None  # a short name (classes: "Radicular"), for explain and tables
    description: Optional[str] = None
    codes: list[Code] = []
    advice: Optional[Wording] = None  # management text for the note
    examination: Optional[str] = None  # suggested objective examination for the note


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
    safety_net: Wording
    # Facts and definitions an export charts as FHIR Observations (pain and STarT Back scores),
    # with standard codes where they exist; also labels and codes for the red-flag screen's answers,
    # which are always charted (screening and screens).
    observations: dict[str, Named] = {}


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
    action: Optional[str] = None


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
