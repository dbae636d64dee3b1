"""The terminal prompter: the only module that imports questionary.

Closed questions answer on one key: `y`/`n`/`u` for yes, no and unsure, digits
for choices, `b` (or the left arrow) to go back. Enter takes the pointed choice:
the earlier answer when a question is asked again, and "unsure / not asked" on
a question not yet answered, so a stray Enter never records a "no" or settles
a follow-up. Tick lists tick with digits or space and finish with Enter; `0` is
"none of these". "Unsure / not asked" stands alone: it is its own key (`u`), is
refused together with ticked items, and is kept when the list is asked again.
Free text keeps a pasted block of lines as one answer; `<` on an unchanged
earlier answer goes back.

Every prompt raises KeyboardInterrupt on Ctrl-C (the caller saves the draft and
exits 130). Rich output (alert panels, the review) is printed only between
prompts, and every piece of case text shown goes through `base.text.markup`.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any, Sequence

import questionary
from prompt_toolkit.application import Application
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.keys import Keys
from prompt_toolkit.layout.processors import Processor, Transformation, TransformationInput
from questionary import Choice
from questionary.prompts.common import InquirerControl, create_inquirer_layout
from rich.console import Console

from .screen import Screen
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table

from ..base.text import BIDI_CONTROLS, markup, plain, shorten
from ..consult.interview import NOT_ANSWERED, Interview, LiveAlert, Offer, Progress
from ..consult.session import questions
from ..engine.questionnaire import GO_BACK, Question, answer_problem

UNSURE = "__unsure__"
NONE = "__none__"
FINISH = "__finish__"
ASK_OPEN = "__ask_open__"
EDIT = "__edit__"
STYLE = questionary.Style([("qmark", "fg:ansicyan bold"), ("question", "bold"), ("instruction", "fg:ansibrightblack"),
                           ("answer", "fg:ansicyan")])
#: Keys for choices, in order: digits, then letters that do not mean yes, no, unsure or back.
CHOICE_KEYS = [*"123456789", *(c for c in string.ascii_lowercase if c not in "bnuy")]


#: Continuation lines of a wrapped prompt start under the question text.
WRAP_INDENT = 2


def terminal_width() -> int:
    """The width of the terminal the prompt is drawn on (the running application's, when there is one)."""
    try:
        from prompt_toolkit.application.current import get_app_or_none

        app = get_app_or_none()
        if app is not None and app.is_running:
            return max(20, app.output.get_size().columns)
    except Exception:  # noqa: BLE001 - no output to ask: fall back to the environment
        pass
    import shutil

    return max(20, shutil.get_terminal_size((80, 24)).columns)


def wrap_fragments(fragments: Sequence[tuple[str, str]], width: int, indent: int = WRAP_INDENT,
                   start: int = 0) -> list[tuple[str, str]]:
    """Styled prompt text word-wrapped to `width` columns: a line breaks only between words (a
    word longer than a whole line is the only thing ever split), continuation lines indented.
    prompt_toolkit itself wraps at the last column, in the middle of a word."""
    out: list[tuple[str, str]] = []
    column = start
    limit = max(indent + 10, width - 1)  # the last column is left free: no auto-wrap at the margin
    for style, text in fragments:
        # a key hint ("(y/n, u or Enter unsure, b back)") or a short answer ("Disagree (0)") moves to
        # the next line whole, never split across two, when it fits on one
        whole = style in ("class:instruction", "class:answer") and "\n" not in text \
            and len(text.strip()) <= min(limit - indent, 40)
        for piece in ([" "] * text.startswith(" ") + [text.strip()] + [" "] * text.endswith(" ")
                      if whole and text.strip() else re.split(r"( +|\n)", text)):
            if not piece:
                continue
            if piece == "\n":
                out.append((style, "\n" + " " * indent))
                column = indent
                continue
            if piece.startswith(" "):
                if column + len(piece) > limit:
                    continue  # the break takes the place of the spaces
                out.append((style, piece))
                column += len(piece)
                continue
            while column + len(piece) > limit and column > indent:
                if out and out[-1][1].strip() == "":  # spaces before the break go
                    column -= len(out.pop()[1])
                out.append((style, "\n" + " " * indent))
                column = indent
            while len(piece) > limit - column:  # a word longer than a line: split it, nothing else can
                cut = limit - column
                out.append((style, piece[:cut] + "\n" + " " * indent))
                piece, column = piece[cut:], indent
            out.append((style, piece))
            column += len(piece)
    return out


def echo(fragments: Sequence[tuple[str, str]]) -> None:
    """Styled text printed word-wrapped to the terminal (an answered prompt, as it stays on screen)."""
    from prompt_toolkit import print_formatted_text
    from prompt_toolkit.formatted_text import FormattedText

    print_formatted_text(FormattedText(wrap_fragments(fragments, terminal_width())), style=STYLE)


def wrap_text(text: str, width: int, indent: int, start: int = 0) -> str:
    """Plain text word-wrapped as `wrap_fragments` does."""
    return "".join(t for _, t in wrap_fragments([("", text)], width, indent, start))


@dataclass(frozen=True)
class Option:
    title: str
    value: Any
    key: str | None


#: What a terminal would draw misleadingly while an answer is typed or pasted, and no answer may
#: hold: C1 controls, line separators, bidirectional controls (they reorder what follows).
_HIDDEN = re.compile(f"[\x80-\x9f\u2028\u2029{BIDI_CONTROLS}]")


class ShowHidden(Processor):
    """The line being edited with each such character drawn as U+FFFD, one for one (so the cursor
    stays where it is): the answer is refused, with its reason, when Enter is pressed; until then
    the terminal shows what was typed, not text reordered or hidden by it."""

    def apply_transformation(self, transformation_input: TransformationInput) -> Transformation:
        return Transformation([(fragment[0], _HIDDEN.sub("\ufffd", fragment[1]), *fragment[2:])
                               for fragment in transformation_input.fragments])


def text_hint(question: Question) -> str:
    """What Enter on a blank typed answer really does, in the words the review and the note use
    for it (`Question.describe`): a case id is required; an optional answer (a PSFS activity or
    score, the ODI, free-text notes) is not recorded; any other number is recorded as unsure,
    which keeps open every rule that reads it, never a "no"."""
    if question.kind not in ("number", "scale") and not question.optional:
        return "required, < = back"
    return f"blank = {'not recorded' if question.blank_not_recorded else 'unsure'}, < = back"


class TerminalPrompter:
    def __init__(self, console: Console | None = None):
        self.console = console or Screen(highlight=False)
        self.section: str | None = None  # the section whose heading is on screen

    # ------------------------------------------------------------------ asking

    def ask(self, question: Question, default: Any, progress: Progress) -> Any:
        if progress.section != self.section:
            self.section = progress.section
            self.console.rule(f"[bold]{markup(progress.section)}[/bold]", align="left", characters="─")
        qmark = f"{progress.number}/{progress.total} ›"
        if question.help:
            self.console.print(Padding(f"[dim]{markup(' '.join(question.help.split()))}[/dim]", (0, 0, 0, 2)))
        if question.kind in ("yes_no", "choice"):
            return self._select(question, default, qmark)
        if question.kind == "multi":
            return self._tick(question, default, qmark)
        if question.kind == "items":
            return self._items(question, default, qmark)
        return self._text(question, default, qmark)

    def _select(self, question: Question, default: Any, qmark: str) -> Any:
        if question.kind == "yes_no":
            options = [Option("Yes", True, "y"), Option("No", False, "n")]
        else:
            options = [Option(label, value, key) for (value, label), key in zip(question.offered, CHOICE_KEYS)]
        options += [Option("Unsure / not asked", UNSURE, "u"), Option("<- Back", GO_BACK, "b")]
        pointed = UNSURE if default is NOT_ANSWERED or default is None else default
        reply = keyed_select(question.text, options, pointed, qmark)
        return GO_BACK if reply is GO_BACK else None if reply == UNSURE else reply

    def _tick(self, question: Question, default: Any, qmark: str) -> Any:
        reply = tick_list(question.text, list(question.offered), default, qmark)
        if isinstance(reply, list) and isinstance(default, list):
            # Values of the earlier answer not offered at the prompt (asked as their own questions)
            # are kept as they were, never dropped unseen.
            kept = [v for v in default if v not in dict(question.offered)]
            reply = [v for v, _ in question.choices if v in reply or v in kept]
        return GO_BACK if reply is GO_BACK else None if reply == UNSURE else reply

    def _text(self, question: Question, default: Any, qmark: str) -> Any:
        numeric = question.kind in ("number", "scale")
        unit = f" ({question.unit})" if question.unit else ""
        required = not numeric and not question.optional
        hint = text_hint(question)

        def validate(text: str) -> bool | str:
            text = text.strip()
            if text == "" and required:
                return "An answer is needed"
            if text in ("", "<"):
                return True
            if not numeric:  # refused here, the text stays to be corrected (a pasted control character)
                problem = answer_problem(question.id, text)
                return True if problem is None else problem[:1].upper() + problem[1:]
            try:
                question.parse_number(text)
            except ValueError as err:
                return str(err)
            return True

        shown = "" if default is None or default is NOT_ANSWERED else (
            f"{default:g}" if isinstance(default, float) else str(default))
        # The prompt is erased when answered and echoed again word-wrapped: prompt_toolkit would
        # leave the typed answer broken at the last column, mid-word.
        reply = questionary.text(
            _text_message(f"{question.text}{unit}", qmark, f"({hint})"), default=shown, qmark=qmark, style=STYLE,
            validate=validate, instruction=f"({hint})", key_bindings=_text_keys(shown), erase_when_done=True,
            input_processors=[ShowHidden()],
        ).unsafe_ask()
        echo([("class:qmark", qmark), ("class:question", f" {question.text}{unit} "),
              ("class:instruction", f"({hint}) "), ("class:answer", reply.strip())])
        reply = reply.strip()
        if reply == "<":
            return GO_BACK
        if reply == "":
            return None
        return question.parse_number(reply) if numeric else reply

    def _items(self, question: Question, default: Any, qmark: str) -> Any:
        previous = "Keep the recorded answers" if isinstance(default, list) else None
        options = [Option("Enter the answers", "enter", "1"), Option("Skip (unsure / not asked)", UNSURE, "u"),
                   Option("<- Back", GO_BACK, "b")]
        if previous:
            options.insert(0, Option(f"{previous} ({' '.join(map(str, default))})", "keep", "k"))
        start = keyed_select(question.text, options, "keep" if previous else UNSURE,
                             qmark, hint="(" + ("k keep, " if previous else "") + "1 enter, u skip, b back)")
        if start == GO_BACK:
            return GO_BACK
        if start == UNSURE:
            return None
        if start == "keep":
            return list(default)
        answers: list[int] = []
        last = len(question.items) - 1
        while len(answers) <= last:
            number = len(answers)
            if number == last:
                options = [Option(f"{text} ({v})", v, str(v)) for v, text in enumerate(
                    ["not at all", "slightly", "moderately", "very much", "extremely"])]
            else:
                options = [Option("Agree (1)", 1, "1"), Option("Disagree (0)", 0, "0")]
            options.append(Option("<- Back", GO_BACK, "b"))
            before = default[number] if isinstance(default, list) and len(default) > number else None
            value = keyed_select(f"{number + 1}. {question.items[number]}", options, before, "  STarT Back ›")
            if value == GO_BACK:
                if not answers:
                    return self._items(question, default, qmark)
                answers.pop()
            else:
                answers.append(value)
        return answers

    # ------------------------------------------------------------------ output

    def invalid(self, question: Question, message: str) -> None:
        self.console.print(f"[red]  {markup(message)}[/red]")

    def notice(self, text: str) -> None:
        """A line under the question, indented, its continuation lines too."""
        self.console.print(Padding(f"[yellow]{markup(text)}[/yellow]", (0, 0, 0, 2), expand=False))

    def alert(self, alert: LiveAlert) -> None:
        """A panel when something is raised (or raised higher); one line when it goes down or clears."""
        what = "RED FLAG" if alert.is_red_flag else "ALERT (class unchanged)"
        if alert.change == "cleared":
            self.notice(f"{alert.label}: no longer raised (was {str(alert.was).upper()}).")
            return
        if alert.change == "lower":
            self.notice(f"{alert.label}: now {alert.tier_label.upper()} ({alert.time_frame}), "
                        f"was {str(alert.was).upper()}.")
            return
        raised = f" - raised from {str(alert.was).upper()}" if alert.change == "higher" else ""
        body = (f"[bold]{what}: {markup(alert.rule_label or alert.label)}[/bold]\n"
                f"[bold]{markup(alert.tier_label.upper())}[/bold] - {markup(alert.time_frame)}{raised}\n"
                f"{markup(alert.reason)}\n[bold]Action:[/bold] {markup(alert.action)}")
        self.console.print(Panel(body, title=what, border_style="bold red", title_align="left"))

    def same_as_last_time(self, offer: Offer, progress: Progress) -> Any:
        """A follow-up: the last visit's answers of a group, kept whole on `y`, asked each on `n`."""
        if progress.section != self.section:
            self.section = progress.section
            self.console.rule(f"[bold]{markup(progress.section)}[/bold]", align="left", characters="─")
        shown = "; ".join(f"{q.label}: {q.describe(v)}" for q, v in offer.earlier)
        self.console.print(Padding(f"[dim]Last time:[/dim] {markup(shown)}", (0, 0, 0, 2)))
        options = [Option(f"Yes, the same (keeps these {len(offer.earlier)} answers)", True, "y"),
                   Option("No, ask each (last time's answer offered)", False, "n"),
                   Option("<- Back", GO_BACK, "b")]
        reply = keyed_select(f"{offer.label}: same as last time?", options, None,
                             f"{progress.number}/{progress.total} ›", hint="(y same, n ask each, b back)")
        return GO_BACK if reply is GO_BACK else reply

    def offer_save_now(self, interview: Interview, alert: LiveAlert) -> bool:
        """At an emergency: save the case and note now, with what is known, or go on asking."""
        left = len(interview.not_asked())
        options = [Option("Save now and act (the note names the questions not asked)", "save", "s"),
                   Option(f"Go on with the interview ({questions(left)} left)", "go_on", "g")]
        return keyed_select(f"{alert.tier_label.upper()}: save the case and note now?", options, None,
                            "Act now ›", back=False, hint="(s save now, g go on)") == "save"

    def saved_now(self, written: Any, left: list[Question]) -> bool:
        """Say what was saved and what was left; go on asking the questions left?"""
        case_path, note_path, _ = written
        self.console.print(f"[bold]Saved[/bold] {markup(case_path)}, {markup(note_path)} and the plain-text note; "
                           f"{questions(len(left))} not asked {'is' if len(left) == 1 else 'are'} recorded as unknown "
                           "(red flags as not screened).")
        if not left:
            return False
        options = [Option("Stop here (the files are saved)", "stop", "s"),
                   Option(f"Go on asking the {questions(len(left))} left; saving again rewrites the files",
                          "go_on", "g")]
        return keyed_select("Go on with the interview?", options, None, "Saved ›", back=False,
                            hint="(s stop, g go on)") == "go_on"

    def review(self, interview: Interview) -> str | list[str] | None:
        """The current result, what is still open and the answers to check, then save, ask the
        open questions, or pick a section to edit. The menu starts on Save.

        The panel and the menu are fitted to the terminal together, so the verdict stays in view:
        first the panel's foldable lists are folded, then the sections go behind one "edit" entry;
        nothing the panel says is ever cut short."""
        rows = interview.review_rows()
        sections: dict[str, list] = {}
        for row in rows:
            sections.setdefault(row.question.section_title, []).append(row)
        open_now = interview.open_conditions()
        to_ask = list(dict.fromkeys(q.id for condition in open_now for q in condition.questions))
        # the menu under the panel: its question (two lines), Save, Ask, then the sections in two
        # columns, or one "edit" entry
        top = 2 + 1 + bool(to_ask)
        height = self.console.size.height - 1
        full, folded = self.result_panel(interview, open_now, folded=False), self.result_panel(interview, open_now, folded=True)
        fits = [(panel, tall) for panel, tall in ((full, False), (folded, False), (full, True), (folded, True))
                if len(self._rendered(panel)) <= height - top - (1 if tall else -(-len(sections) // 2))]
        panel, tall = fits[0] if fits else (folded, True)
        self.console.print(panel)
        while True:
            options = [Option("Save and write the note", FINISH, "s")]
            if to_ask:
                options.append(Option(f"Ask what would settle what is not excluded ({questions(len(to_ask))})",
                                      ASK_OPEN, "o"))
            pick = [Option(f"{title} ({len(items)})", title, key)
                    for (title, items), key in zip(sections.items(), CHOICE_KEYS)]
            if tall:
                options.append(Option(f"Check or edit an answer (pick one of {len(sections)} sections)", EDIT, "e"))
                hint = f"(s save{', o ask' if to_ask else ''}, e edit)"
            wide = len(options)
            if not tall:
                options += pick
                hint = f"(s save{', o ask' if to_ask else ''}, 1-{options[-1].key} open a section)"
            choice = keyed_select("Save, or open a section to check or edit?", options, FINISH, "Review ›",
                                  back=False, hint=hint, columns=2, wide=wide)
            if choice == FINISH:
                return None
            if choice == ASK_OPEN:
                return to_ask
            if choice == EDIT:
                choice = keyed_select("Which section?", [Option("<- Back", GO_BACK, "b"), *pick], None, "Edit ›",
                                      back=False, columns=2, wide=1)  # laid out as the review's sections
                if choice == GO_BACK:
                    continue
            items = sections[choice]
            options = [Option(f"{plain(row.question.label)}: {plain(row.shown)}"
                              + (" (settled by an earlier answer)" if row.settled else ""), row.question.id, key)
                       for row, key in zip(items, CHOICE_KEYS)]
            options.append(Option("<- Back to the sections", GO_BACK, "b"))
            picked = keyed_select(f"{choice}: which answer?", options, None, "Edit ›", back=False)
            if picked != GO_BACK:
                return picked

    def result_panel(self, interview: Interview, open_now: list[Any], folded: bool = False) -> Panel:
        """The result panel: class, urgency and what set it, each with the governing rule's own
        time frame and action; every condition not excluded, with the questions that would settle
        it; what was not screened; the answers to check. Lines are word-wrapped to the terminal,
        never cut short. `folded`: a question already named for a condition above is counted, not
        named again; the not-screened list (its questions are under "Not excluded" and in the
        note) and all but the first answer to check (the note lists them) are folded. The verdict
        and every condition not excluded never are."""
        a = interview.assessment()
        m = interview.ruleset.manifest
        tier = m.tiers[a.urgency]
        set_by = interview.urgency_set_by()
        lines = [f"[bold]{markup(m.classes[a.classification].label)}[/bold]"]
        frames = list(dict.fromkeys(alert.time_frame for alert in set_by))
        # the governing rows' own time frame; the tier's only when no row set the urgency
        frame = frames[0] if len(frames) == 1 else "" if frames else \
            tier.time_frame if tier.time_frame.lower() != tier.label.lower() else ""
        verdict = f"[bold]{markup(tier.label.upper())}[/bold]" + (f" - {markup(frame)}" if frame else "")
        # as the note: provisional while the red-flag screen is incomplete or a higher tier is not excluded
        rank = interview.ruleset.tier_rank
        higher_open = any(rank[condition.tier] < rank[a.urgency] for condition in open_now)
        provisional = "provisional_incomplete" if a.unscreened else \
            "provisional_not_excluded" if higher_open else None
        template = m.note_wording.get(provisional, "") if provisional else ""
        if "{headline}" in template:
            before, _, after = template.partition("{headline}")
            verdict = f"[bold]{markup(before)}[/bold]{verdict}{markup(after)}"
        lines.append(f"Urgency: {verdict}")
        for alert in set_by:
            what = "red flag" if alert.is_red_flag else "alert"
            own = f" - {markup(alert.time_frame)}" if len(frames) > 1 else ""
            lines.append(f"[bold]Set by:[/bold] {markup(alert.rule_label or alert.label)} ({what}){own}")
        actions = list(dict.fromkeys(" ".join(alert.action.split()) for alert in set_by)) or \
            [" ".join(tier.action.split())]
        lines += [f"[bold]Action:[/bold] {markup(action)}" for action in actions]
        named: set[str] = set()
        for condition in open_now:  # each one: what could still make it more urgent, and what to ask
            new = [q for q in condition.questions if not folded or q.id not in named]
            again = len(condition.questions) - len(new)
            named |= {q.id for q in new}
            ask = ", ".join(q.label for q in new)
            if again:
                ask += (" (and " if ask else "the ") + (f"{again} questions" if again > 1 else "question") + \
                    " above" + (")" if ask else "")
            lines.append(f"[bold]Not excluded:[/bold] {markup(condition.label)} "
                         f"({markup(condition.tier_label.upper())}) - ask: {markup(ask or 'no question left to ask')}")
        if a.unscreened and not folded:
            labels = ", ".join(interview.questionnaire.label(f) for f in a.unscreened)
            lines.append(f"[bold]Not screened ({len(a.unscreened)}):[/bold] {markup(labels)}")
        elif a.unscreened:
            lines.append(f"[bold]Not screened ({len(a.unscreened)}):[/bold] red-flag questions left unsure; "
                         "the note lists them")
        shown = a.warnings[:1] if folded else a.warnings
        lines += [f"[yellow]Check:[/yellow] {markup(w.split(': ', 1)[-1])}" for w in shown]
        if len(a.warnings) > len(shown):
            lines.append(f"[yellow]... and {len(a.warnings) - len(shown)} more answers to check "
                         "(the note lists them)[/yellow]")
        return Panel("\n".join(lines), title="Result so far", title_align="left", border_style="cyan",
                     width=min(self.console.width, terminal_width()))

    def message(self, text: str) -> None:
        self.console.print(text)

    # ------------------------------------------------------------------ practice mode

    def show(self, title: str, lines: list[str], clear: bool = False) -> None:
        if clear:
            self.console.clear()
        self.console.print(Panel("\n".join(lines), title=title, title_align="left", border_style="cyan"))

    def choose_many(self, text: str, choices: list[tuple[Any, str]]) -> list[Any]:
        from prompt_toolkit.key_binding import merge_key_bindings

        question = questionary.checkbox(
            text, choices=[Choice(label, value) for value, label in choices], style=STYLE, qmark="›",
            instruction="(space to tick, enter when done)")
        question.application.key_bindings = merge_key_bindings([question.application.key_bindings,
                                                                _no_mouse(KeyBindings())])
        return question.unsafe_ask()

    def choose(self, text: str, choices: list[tuple[Any, str]]) -> Any:
        """One answer, nothing preselected: a digit key chooses (or the arrows, then Enter).
        Enter with nothing chosen asks again; a second Enter passes (PASS: no answer, never right)."""
        return neutral_select(text, [Option(label, value, key) for (value, label), key in zip(choices, CHOICE_KEYS)])

    def menu(self, text: str, choices: list[tuple[Any, str]], start: Any = None, erase: bool = False) -> Any:
        """One choice with nothing preselected (`start` is not pointed at: every mode starts
        neutral): a key chooses at once - digits, then letters; `0` for Done, `b` for back - or
        the arrows, then Enter. With `erase` the menu leaves no line behind, so what was shown
        above it stays on screen."""
        from ..teach.practice import DONE

        keys = iter(CHOICE_KEYS)
        options = [Option(label, value, "b" if value == GO_BACK else "0" if value == DONE else next(keys, None))
                   for value, label in choices]
        picked = [o.key for o in options if o.key not in (None, "b", "0")]
        hint = "(" + ", ".join([f"{_key_range(picked)} to choose"] * bool(picked)
                               + ["0 done"] * any(o.value == DONE for o in options)
                               + ["b back"] * any(o.value == GO_BACK for o in options)) + ")"
        return keyed_select(text, options, None, "›", hint=hint, erase=erase)

    def note(self, text: str) -> None:
        """One indented line of rich markup whose wrapped lines keep the indent."""
        self.console.print(Padding(text, (0, 0, 0, 2)))

    def show_list(self, title: str, lines: list[str]) -> None:
        """Like `show`, but a line starting "  • " is a list item whose wrapped lines stay indented."""
        self.console.print(self.list_panel(title, lines))

    def list_panel(self, title: str, lines: list[str]) -> Panel:
        """A titled panel of lines; a line "  • item" is a bullet whose wrapped text hangs."""
        from rich.console import Group

        parts: list[Any] = []
        for line in lines:
            if line.startswith("  • "):
                item = Table.grid(padding=(0, 1))
                item.add_column(width=3, justify="right")
                item.add_column()
                item.add_row("•", line[4:])
                parts.append(item)
            else:
                parts.append(line)
        return Panel(Group(*parts), title=title, title_align="left", border_style="cyan")

    def verdict(self, title: str, lines: list[str], detail: list[str], last: bool = False) -> str:
        """The verdict at the top of a clear screen; it stays until the student moves on.
        `d` pages through the detail (a screen at a time) and comes back to the verdict.
        Returns "next" or "stop"."""
        nxt = "see the scorecard" if last else "next case"
        shown = self._rendered(self.list_panel(title, lines))
        room = max(5, self.console.size.height - 1)  # the move-on line below it
        if len(shown) > room:  # never scrolls away: what does not fit is the detail's first page
            detail = lines + detail
            shown = shown[:room - 2] + [self._rendered(f"[dim]… more in the detail (d)[/dim]")[0], shown[-1]]
        while True:
            self.console.clear()
            for line in shown:
                self.console.print(line, soft_wrap=True, crop=False)
            key = key_prompt(f"Enter {nxt} · d detail (how the rules reasoned) · q stop",
                             {"\r": "next", "d": "detail", "q": "stop", " ": "next"})
            if key != "detail":
                return key
            self.page(f"{title}: detail", detail)

    def page(self, title: str, lines: list[str]) -> None:
        """Lines shown a screen at a time: Enter or space for more, q back. Each page is a whole
        panel with its title, and one that starts inside a list repeats the list's heading
        ("... (continued)"), so no page begins mid-list with nothing to say what it is."""
        height = max(5, self.console.size.height - 2)
        pages = [self._rendered(self.list_panel(title, chunk)) for chunk in self.page_chunks(lines, height)]
        for number, page in enumerate(pages, 1):
            self.console.clear()
            for line in page:
                self.console.print(line, soft_wrap=True, crop=False)
            more = number < len(pages)
            hint = (f"Page {number} of {len(pages)} · Enter more · q back to the verdict" if more else
                    f"Page {number} of {len(pages)} · Enter back to the verdict")
            if key_prompt(hint, {"\r": "more", " ": "more", "q": "back"}) == "back":
                return

    def page_chunks(self, lines: list[str], height: int) -> list[list[str]]:
        """`lines` cut into pages whose panels take at most `height` rows (the borders take two); a
        page that starts inside a list of "  • " items opens with its heading, "(continued)"."""
        def rows(chunk: list[str]) -> int:
            return len(self._rendered(self.list_panel("", chunk)))

        pages: list[list[str]] = []
        current: list[str] = []
        heading: str | None = None
        for line in lines:
            if current and rows(current + [line]) > height:
                if len(current) > 1 and not current[-1].startswith("  • ") and line.startswith("  • "):
                    pages.append(current[:-1])  # a heading never ends a page: it goes with its list
                    current = [current[-1]]
                else:
                    pages.append(current)
                    current = [_continued(heading)] if heading and line.startswith("  • ") else []
            current.append(line)
            if not line.startswith("  • "):
                heading = line
        return [*pages, current] if current or not pages else pages

    def _rendered(self, renderable: Any) -> list[Any]:
        """A renderable as its lines at this terminal's width (rich Text, styles kept)."""
        from rich.text import Text

        options = self.console.options
        out = []
        for segments in self.console.render_lines(renderable, options, pad=False):
            line = Text()
            for segment in segments:
                if not segment.control:
                    line.append(segment.text, segment.style)
            out.append(line)
        return out

def _continued(heading: str) -> str:
    """"[bold]Features ...:[/bold]" -> "[bold]Features ... (continued):[/bold]"."""
    for end in (":[/bold]", ":"):
        if heading.endswith(end):
            return f"{heading[:-len(end)]} (continued){end}"
    return f"{heading} (continued)"


# --------------------------------------------------------------------------- the prompts


class _GridControl(InquirerControl):
    """Choices laid out in columns after the first `wide` (one a line), so a long menu fits a
    24-line terminal; the arrows still move through them in order."""

    def __init__(self, *args: Any, columns: int = 1, wide: int = 0, **kwargs: Any):
        self.columns, self.wide = columns, wide
        super().__init__(*args, **kwargs)

    def _get_choice_tokens(self) -> list[tuple[str, str]]:
        width = terminal_width()
        cell = (width - 1) // self.columns
        if self.columns == 1 or cell < 24:
            tokens = super()._get_choice_tokens()
            if self.pointer is None:  # nothing pointed at: no line looks chosen, in colour either
                tokens = [("class:text" if style == "class:highlighted" else style, text) for style, text in tokens]
            return tokens
        tokens: list[tuple[str, str]] = []

        def draw(index: int, limit: int) -> int:
            choice = self.choices[index]
            here = index == self.pointed_at and self.pointer is not None
            tokens.append(("class:pointer", f" {self.pointer} ") if here and self.pointer else ("class:text", "   "))
            if here:
                tokens.append(("[SetCursorPosition]", ""))
            text = shorten(f"{choice.get_shortcut_title()}{choice.title}", limit - 3)
            tokens.append(("class:highlighted" if here else "class:text", text))
            return 3 + len(text)

        for index in range(min(self.wide, len(self.choices))):
            draw(index, width - 1)
            tokens.append(("", "\n"))
        rest = list(range(self.wide, len(self.choices)))
        rows = -(-len(rest) // self.columns)
        texts = [f"{self.choices[i].get_shortcut_title()}{self.choices[i].title}" for i in rest]
        # Each column as wide as its longest entry (the last takes what is left), so titles are
        # shortened only when they cannot fit.
        starts = [0]
        for column in range(1, self.columns):
            entries = texts[(column - 1) * rows: column * rows]
            starts.append(starts[-1] + min(cell, 3 + max(map(len, entries), default=0) + 2))
        starts.append(width - 1)
        for row in range(rows):
            column_at = 0
            for column in range(self.columns):
                at = column * rows + row
                if at >= len(rest):
                    break
                if column_at < starts[column]:
                    tokens.append(("class:text", " " * (starts[column] - column_at)))
                    column_at = starts[column]
                column_at += draw(rest[at], starts[column + 1] - starts[column] - (column < self.columns - 1))
            tokens.append(("", "\n"))
        if tokens and tokens[-1] == ("", "\n"):
            tokens.pop()
        return tokens


def keyed_select(message: str, options: Sequence[Option], pointed: Any, qmark: str, back: bool = True,
                 hint: str | None = None, columns: int = 1, wide: int = 0, erase: bool = False) -> Any:
    """Pick one option: its key answers at once; arrows and Enter work too; `b`/left = back.
    `columns` > 1 lays out the options after the first `wide` in columns."""
    width = terminal_width()
    choices = [Choice(o.title if columns > 1 else _title(o.title, width, CHOICE_INDENT), o.value,
                      shortcut_key=o.key) for o in options]
    values = [o.value for o in options]
    # With nothing pointed (no earlier answer and no neutral choice to start on), Enter does
    # nothing until an arrow key points at a choice: Enter never picks the first answer unseen.
    chosen = [pointed in values]
    ic = _GridControl(choices, None, use_indicator=False, use_shortcuts=True,
                      initial_choice=pointed if chosen[0] else None, columns=columns, wide=wide,
                      pointer="»" if chosen[0] else None)

    # Enter on a question not yet answered takes "unsure / not asked" (never a "no"): the hint says so
    default_hint = "(" + ", ".join([_key_range([o.key for o in options if o.key not in (None, "u", "b")])]
                                   + (["u or Enter unsure" if pointed == UNSURE else "u unsure"]
                                      if UNSURE in values else [])
                                   + (["b back"] if GO_BACK in values else [])) + ")"

    def tokens() -> list[tuple[str, str]]:
        head = [("class:qmark", qmark), ("class:question", f" {message} ")]
        if ic.is_answered:
            return wrap_fragments(head + [("class:answer", " ".join(ic.get_pointed_at().title.split()))],
                                  terminal_width())
        return wrap_fragments(head + [("class:instruction", hint or default_hint)], terminal_width())

    bindings = _common_bindings()

    def answer(event: Any, index: int) -> None:
        ic.pointed_at = index
        ic.is_answered = True
        event.app.exit(result=options[index].value)

    for index, option in enumerate(options):
        if option.key:
            bindings.add(option.key, eager=True)(lambda event, i=index: answer(event, i))
    if back and GO_BACK in values:
        bindings.add(Keys.Left, eager=True)(lambda event: answer(event, values.index(GO_BACK)))
    def move(step: Any) -> None:
        if chosen[0]:
            step()
        chosen[0] = True
        ic.pointer = "»"

    def enter(event: Any) -> None:
        if chosen[0]:
            answer(event, ic.pointed_at)

    bindings.add(Keys.Down, eager=True)(lambda event: move(ic.select_next))
    bindings.add(Keys.Up, eager=True)(lambda event: move(ic.select_previous))
    bindings.add(Keys.ControlM, eager=True)(enter)
    return _run(ic, tokens, bindings, erase)


PASS = "__pass__"


def neutral_select(message: str, options: Sequence[Option], qmark: str = "›") -> Any:
    """Pick one option with nothing preselected: its key answers at once; the arrows move a pointer
    that starts on nothing, and Enter takes it. Enter with nothing pointed at says how to choose;
    Enter again passes (PASS). So a run of Enters never picks an answer."""
    choices = [Choice(o.title, o.value, shortcut_key=o.key) for o in options]
    ic = InquirerControl(choices, None, use_indicator=False, use_shortcuts=True)
    ic.pointed_at = -1  # nothing pointed at: no line is highlighted
    keys = [o.key for o in options if o.key]
    hint = f"({_key_range(keys)} to choose)"
    nothing = f"Nothing chosen: press {_key_range(keys)}, or Enter again to pass"
    chosen: list[str] = []
    warned: list[bool] = []

    def tokens() -> list[tuple[str, str]]:
        head = [("class:qmark", qmark), ("class:question", f" {message} ")]
        if ic.is_answered:
            return head + [("class:answer", chosen[0])]
        if warned:  # shown where the student is looking, on the question's own line
            return head + [("class:qmark", nothing)]
        return head + [("class:instruction", hint)]

    bindings = _common_bindings()

    def answer(event: Any, index: int | None) -> None:
        ic.is_answered = True
        if index is None:
            chosen.append("passed (no answer)")
            event.app.exit(result=PASS)
            return
        ic.pointed_at = index
        chosen.append(options[index].title)
        event.app.exit(result=options[index].value)

    def enter(event: Any) -> None:
        if ic.pointed_at >= 0:
            answer(event, ic.pointed_at)
        elif not warned:
            warned.append(True)
        else:
            answer(event, None)

    def move(step: int) -> None:
        warned.clear()
        ic.pointed_at = (0 if step > 0 else len(options) - 1) if ic.pointed_at < 0 else \
            (ic.pointed_at + step) % len(options)

    for index, option in enumerate(options):
        if option.key:
            bindings.add(option.key, eager=True)(lambda event, i=index: answer(event, i))
    bindings.add(Keys.Down, eager=True)(lambda event: move(1))
    bindings.add(Keys.Up, eager=True)(lambda event: move(-1))
    bindings.add(Keys.ControlM, eager=True)(enter)
    return _run(ic, tokens, bindings)


def key_prompt(message: str, keys: dict[str, str]) -> str:
    """One line that waits for one of `keys` ("\\r" is Enter) and returns its value; the line stays."""
    from prompt_toolkit import Application as App
    from prompt_toolkit.layout import Layout, Window
    from prompt_toolkit.layout.controls import FormattedTextControl

    bindings = _common_bindings()
    for key, value in keys.items():
        name = Keys.ControlM if key == "\r" else key
        bindings.add(name, eager=True)(lambda event, v=value: event.app.exit(result=v))
    control = FormattedTextControl([("class:instruction", message)])
    app: App[str] = App(layout=Layout(Window(control, height=1)), key_bindings=bindings, style=STYLE)
    return questionary.Question(app).unsafe_ask()


def tick_list(message: str, offered: list[tuple[Any, str]], default: Any, qmark: str) -> Any:
    """Tick any of `offered` (digits or space), Enter when done; `0` none of these, `u` unsure, `b` back.

    Returns the ticked values (in offered order), [] for none, UNSURE or GO_BACK.
    "None" and "unsure" stand alone: either is refused while items are ticked. A
    list not yet answered, or answered unsure, starts on "Unsure", so Enter with
    nothing ticked records unsure, never "none".
    """
    keys = CHOICE_KEYS[: len(offered)]
    width = terminal_width()
    choices = [Choice(_title(label, width, CHOICE_INDENT + 2), value, shortcut_key=key)
               for (value, label), key in zip(offered, keys)]
    choices += [Choice("None of these", NONE, shortcut_key="0"), Choice("Unsure / not asked", UNSURE, shortcut_key="u"),
                Choice("<- Back", GO_BACK, shortcut_key="b")]
    start = NONE if default == [] else UNSURE if default is None or default is NOT_ANSWERED else None
    ic = InquirerControl(choices, None, use_indicator=True, use_shortcuts=True, initial_choice=start)
    ic.selected_options = [v for v, _ in offered if isinstance(default, list) and v in default]
    labels = dict(offered)
    answered: list[Any] = []

    def tokens() -> list[tuple[str, str]]:
        head = [("class:qmark", qmark), ("class:question", f" {message} ")]
        if ic.is_answered:
            result = answered[0]
            shown = ("unsure / not asked" if result == UNSURE else "back" if result == GO_BACK else
                     ", ".join(labels[v] for v in result) or "none of these")
            return wrap_fragments(head + [("class:answer", shown)], terminal_width())
        return wrap_fragments(head + [("class:instruction", f"(1-{keys[-1]} or space ticks, enter done, 0 none, "
                                                            "u unsure, b back)")], terminal_width())

    bindings = _common_bindings()

    def finish(event: Any, value: Any) -> None:
        if value in (UNSURE, NONE) and ic.selected_options:
            ic.error_message = "Untick the items first: 'none' and 'unsure' stand alone (enter keeps the ticks)"
            return
        ic.is_answered = True
        ic.error_message = None
        answered.append([] if value == NONE else value)
        event.app.exit(result=answered[0])

    def done(event: Any) -> None:
        pointed = ic.get_pointed_at().value
        if ic.selected_options and pointed != GO_BACK:
            finish(event, [v for v, _ in offered if v in ic.selected_options])
        else:
            finish(event, pointed if pointed in (NONE, UNSURE, GO_BACK) else NONE)

    def toggle(event: Any, value: Any) -> None:
        if value in (NONE, UNSURE, GO_BACK):
            finish(event, value)
            return
        ic.error_message = None
        if value in ic.selected_options:
            ic.selected_options.remove(value)
        else:
            ic.selected_options.append(value)

    for (value, _), key in zip(offered, keys):
        bindings.add(key, eager=True)(lambda event, v=value: toggle(event, v))
    bindings.add("0", eager=True)(lambda event: finish(event, NONE))
    bindings.add("u", eager=True)(lambda event: finish(event, UNSURE))
    bindings.add("b", eager=True)(lambda event: finish(event, GO_BACK))
    bindings.add(Keys.Left, eager=True)(lambda event: finish(event, GO_BACK))
    bindings.add(" ", eager=True)(lambda event: toggle(event, ic.get_pointed_at().value))
    bindings.add(Keys.Down, eager=True)(lambda event: ic.select_next())
    bindings.add(Keys.Up, eager=True)(lambda event: ic.select_previous())
    bindings.add(Keys.ControlM, eager=True)(done)
    return _run(ic, tokens, bindings)


#: Where a choice's text starts: the pointer (3 columns) and its key ("1) ").
CHOICE_INDENT = 6


def _title(title: str, width: int, indent: int) -> str:
    """A choice's text word-wrapped to the terminal, continuation lines under its first word."""
    return wrap_text(title, width, indent, indent)


def _key_range(keys: list[str]) -> str:
    """'y/n' for a few keys, '1-5' for a run."""
    return "/".join(keys) if len(keys) <= 3 else f"{keys[0]}-{keys[-1]}"


def _no_mouse(bindings: KeyBindings) -> KeyBindings:
    """`bindings`, dropping what reads as a terminal's mouse report: no prompt here uses the mouse,
    and an escape sequence typed or pasted that looks like one (Escape, then `[2m`) made
    prompt_toolkit's own handler fail - a traceback, then "Press ENTER", which took what was typed
    next."""
    @bindings.add(Keys.Vt100MouseEvent)
    def _(event: Any) -> None:
        """Not read."""

    return bindings


def _common_bindings() -> KeyBindings:
    bindings = _no_mouse(KeyBindings())

    @bindings.add(Keys.ControlC, eager=True)
    @bindings.add(Keys.ControlQ, eager=True)
    def _(event: Any) -> None:
        event.app.exit(exception=KeyboardInterrupt, style="class:aborting")

    @bindings.add(Keys.Any)
    def _ignore(event: Any) -> None:
        """Other keys do nothing."""

    return bindings


def _run(ic: InquirerControl, tokens: Any, bindings: KeyBindings, erase: bool = False) -> Any:
    layout = create_inquirer_layout(ic, tokens)
    return questionary.Question(Application(layout=layout, key_bindings=bindings, style=STYLE,
                                            erase_when_done=erase)).unsafe_ask()


def _text_message(message: str, qmark: str, hint: str) -> str:
    """A text prompt's question word-wrapped to the terminal: questionary draws the mark, then
    " message ", then the hint, so the hint goes to a line of its own when it would not fit."""
    width = terminal_width()
    wrapped = wrap_text(message, width, WRAP_INDENT, len(qmark) + 1)
    last = len(qmark) + 1 + len(wrapped) if "\n" not in wrapped else len(wrapped.rsplit("\n", 1)[1])
    if last + 2 + len(hint) > width - 1:
        wrapped += "\n" + " " * (WRAP_INDENT - 1)
    return wrapped


def _text_keys(shown: str) -> KeyBindings:
    """A pasted block (bracketed paste) goes into the answer whole, line breaks included; `<` typed
    on the earlier answer, unchanged, goes back (no need to delete it first)."""
    bindings = _no_mouse(KeyBindings())

    @bindings.add("<")
    def _back(event: Any) -> None:
        buffer = event.current_buffer
        if shown and buffer.text == shown:
            buffer.text = "<"
            buffer.validate_and_handle()
        else:
            buffer.insert_text("<")

    @bindings.add(Keys.BracketedPaste)
    def _(event: Any) -> None:
        event.current_buffer.insert_text(event.data.replace("\r\n", "\n").replace("\r", "\n"))

    return bindings
