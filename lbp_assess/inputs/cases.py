"""Every way a case comes in: a case file (lbp-case/1, YAML or JSON) or an HL7 FHIR
QuestionnaireResponse answering the lbp-assess Questionnaire, read alike by every command;
and the case files under a folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..base.errors import InputError, Location, Problem
from ..base.yamlio import load_json, load_yaml, read_text
from ..model.case import CASE_SUFFIXES, JSON_LINES_SUFFIXES, Case, validate_case


def validate_any(data: Any, name: str, text: str | None = None, line: int | None = None) -> Case:
    """Parsed data as a case: `lbp-case/1`, or a FHIR QuestionnaireResponse (or a Bundle of one),
    read against the shipped questionnaire (see inputs.fhir_response); errors carry file, line and
    field path."""
    if isinstance(data, dict) and "resourceType" in data and "format" not in data:
        from .fhir_response import read_resource

        found = read_resource(data, name, text, line)
        if len(found) > 1:
            raise InputError.from_problems([Problem(Location(name, line), f"a FHIR Bundle of {len(found)} "
                                                    "QuestionnaireResponses holds several cases; score it with "
                                                    "`lbp-assess score`, or give one response")])
        return found[0][1]
    return validate_case(data, name, text, line)


def read_cases(data: Any, name: str, text: str | None = None, line: int | None = None) -> list[tuple[str, Case]]:
    """Every case in parsed data, each with what names it within the file: a case file or a FHIR
    QuestionnaireResponse is one case (""), a FHIR Bundle one per QuestionnaireResponse (`#entry[2]`)."""
    if isinstance(data, dict) and "resourceType" in data and "format" not in data:
        from .fhir_response import read_resource

        return read_resource(data, name, text, line)
    return [("", validate_case(data, name, text, line))]


def load_case(path: Path | str) -> Case:
    """Load and validate one YAML or JSON case file (or FHIR QuestionnaireResponse)."""
    name = str(path)
    text = read_text(path)
    return parse_case(text, name)


def parse_case(text: str, name: str) -> Case:
    """One case from a file's text: JSON for `.json`, JSON Lines of one line for `.jsonl` and
    `.ndjson` (more is refused: which case was meant?), YAML otherwise."""
    if name.lower().endswith(JSON_LINES_SUFFIXES):
        lines = [(number, line) for number, line in enumerate(text.split("\n"), 1) if line.strip()]
        if len(lines) != 1:
            held = f"{len(lines)} lines of JSON Lines (a case on each)" if lines else "no line of JSON"
            raise InputError.from_problems([Problem(Location(name), f"{held}; this command reads one case: give a "
                                                    "file of one, or score them all with `lbp-assess score`")])
        number, line = lines[0]
        return validate_any(load_json(line.rstrip("\r"), name, number), name, None, number)
    if name.endswith(".json"):
        data = load_json(text, name)
    else:
        data = load_yaml(text, name)
    return validate_any(data, name, text)


class Listed(str):
    """A path found by listing a folder, not named by the user: a FHIR resource there that holds no case
    (the Questionnaire, a CodeSystem) is skipped with a note instead of an error."""

    __slots__ = ()


def expand(paths: Iterable[str]) -> Iterator[str]:
    """Files and directories (recursively, sorted) into case files; '-' is standard input.
    A folder that cannot be listed is given in its place, ending in a path separator; an empty
    path is given as it is (reading it is refused), never taken for the current folder."""
    for raw in paths:
        path = Path(raw)
        if raw in ("-", "") or not path.is_dir():  # "" (an unset variable, say) is no folder: Path("") is "."
            yield raw
            continue
        yield from case_files(str(path))


def folder_case_files(folder: Path) -> list[Path]:
    """The files of one folder (not its subfolders') with a case suffix in any letter case, sorted:
    what cannot be read among them (a FIFO, a dangling link, a draft) is for the reader to refuse
    by name, never skipped."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in CASE_SUFFIXES and not p.is_dir())


def case_files(directory: str) -> list[str]:
    """Case files under a directory, in path order (as sorted Paths would be: by parts).
    Listed with os.scandir, which knows files from directories without a stat each: a
    large case bank lists twice as quick as with Path.rglob. Linked directories are not
    followed (no loops); a folder that cannot be listed is given as `folder/`; anything
    else with a case suffix, in any letter case, is given, so that what cannot be read (a
    device, a dangling link, `X.YAML`) is reported, never skipped. A loop, not recursion: any depth is fine."""
    found: list[tuple[list[str], str]] = []
    folders: list[tuple[str, list[str]]] = [(directory, [])]
    while folders:
        folder, parts = folders.pop()
        try:
            listing = os.scandir(folder)
        except OSError:  # reported, never skipped in silence: its cases would be missing
            found.append((parts, os.path.join(folder, "")))
            continue
        with listing as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders.append((entry.path, [*parts, entry.name]))
                elif os.path.splitext(entry.name)[1].lower() in CASE_SUFFIXES and not entry.is_dir():
                    found.append(([*parts, entry.name], Listed(entry.path)))
    found.sort(key=lambda item: item[0])
    return [file for _, file in found]

