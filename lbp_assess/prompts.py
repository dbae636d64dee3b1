"""The terminal prompter: the only module that imports questionary.

Every prompt uses `unsafe_ask`, so Ctrl-C reaches the caller as
KeyboardInterrupt (the interview saves its draft and exits 130) instead of
being swallowed. Select prompts carry "Unsure / not asked" and "<- Back"
choices; typed answers take a blank line for unsure and `<` for back.
Rich output (alert panels, the review table) is printed only between prompts.
"""

from __future__ import annotations

from typing import Any

import questionary
from questionary import Choice
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from .interview import BACK, NOT_ANSWERED, LiveAlert, Progress, ReviewRow
from .questionnaire import Question

UNSURE = "__unsure__"
GO_BACK = "__back__"
FINISH = "__finish__"
STYLE = questionary.Style([("qmark", "fg:ansicyan bold"), ("question", "bold"), ("instruction", "fg:ansibrightblack")])


class TerminalPrompter:
    def __init__(self, console: Console | None = None):
        self.console = console or Console(highlight=False)

    # ------------------------------------------------------------------ asking

    def ask(self, question: Question, default: Any, progress: Progress) -> Any:
        qmark = f"[{progress.number}/{progress.total}] {progress.section} ›"
        if question.help:
            self.console.print(f"  [dim]{question.help}[/dim]")
        if question.kind in ("yes_no", "choice"):
            return self._select(question, default, qmark)
        if question.kind == "multi":
            return self._checkbox(question, default, qmark)
        if question.kind == "items":
            return self._items(question, default, qmark)
        return self._text(question, default, qmark)

    def _select(self, question: Question, default: Any, qmark: str) -> Any:
        if question.kind == "yes_no":
            choices = [Choice("Yes", True, shortcut_key="y"), Choice("No", False, shortcut_key="n")]
        else:
            choices = [Choice(label, value) for value, label in question.choices]
        choices += [Choice("Unsure / not asked", UNSURE, shortcut_key="u" if question.kind == "yes_no" else None),
                    Choice("<- Back", GO_BACK, shortcut_key="b" if question.kind == "yes_no" else None)]
        selected = None if default is NOT_ANSWERED else UNSURE if default is None else default
        values = [c.value for c in choices]
        reply = questionary.select(
            question.text, choices=choices, default=selected if selected in values else None, qmark=qmark,
            style=STYLE, use_shortcuts=question.kind == "yes_no", use_arrow_keys=True,
        ).unsafe_ask()
        return BACK if reply == GO_BACK else None if reply == UNSURE else reply

    def _checkbox(self, question: Question, default: Any, qmark: str) -> Any:
        chosen = set(default) if isinstance(default, list) else set()
        choices = [Choice(label, value, checked=value in chosen) for value, label in question.choices]
        choices += [Choice("Unsure / not asked", UNSURE), Choice("<- Back", GO_BACK)]
        reply = questionary.checkbox(
            question.text, choices=choices, qmark=qmark, style=STYLE,
            instruction="(space to tick, enter when done; none ticked = none of these)",
        ).unsafe_ask()
        if GO_BACK in reply:
            return BACK
        if UNSURE in reply:
            return None
        return reply

    def _text(self, question: Question, default: Any, qmark: str) -> Any:
        numeric = question.kind in ("number", "scale")
        unit = f" ({question.unit})" if question.unit else ""
        required = not numeric and not question.optional
        hint = ("required, < = back" if required else "blank = unsure, < = back" if numeric
                else "blank = skip, < = back")

        def validate(text: str) -> bool | str:
            text = text.strip()
            if text == "" and required:
                return "An answer is needed"
            if text in ("", "<") or not numeric:
                return True
            try:
                value = float(text)
            except ValueError:
                return "Enter a number (blank = unsure, < = back)"
            if question.minimum is not None and value < question.minimum:
                return f"At least {question.minimum:g}"
            if question.maximum is not None and value > question.maximum:
                return f"At most {question.maximum:g}"
            if question.integer and not value.is_integer():
                return "Enter a whole number"
            return True

        shown = "" if default is None or default is NOT_ANSWERED else (
            f"{default:g}" if isinstance(default, float) else str(default))
        reply = questionary.text(
            f"{question.text}{unit}", default=shown, qmark=qmark, style=STYLE, validate=validate,
            instruction=f"({hint})",
        ).unsafe_ask().strip()
        if reply == "<":
            return BACK
        if reply == "":
            return None
        if numeric:
            value = float(reply)
            return int(value) if question.integer or value.is_integer() else value
        return reply

    def _items(self, question: Question, default: Any, qmark: str) -> Any:
        start = questionary.select(
            question.text, qmark=qmark, style=STYLE,
            choices=[Choice("Enter the answers", "enter"), Choice("Skip (not recorded)", UNSURE),
                     Choice("<- Back", GO_BACK)],
        ).unsafe_ask()
        if start == GO_BACK:
            return BACK
        if start == UNSURE:
            return None
        answers = []
        last = len(question.items) - 1
        for number, item in enumerate(question.items):
            if number == last:
                choices = [Choice(f"{v} - {t}", v) for v, t in enumerate(
                    ["not at all", "slightly", "moderately", "very much", "extremely"])]
            else:
                choices = [Choice("Agree (1)", 1), Choice("Disagree (0)", 0)]
            previous = default[number] if isinstance(default, list) and len(default) > number else None
            value = questionary.select(
                f"{number + 1}. {item}", choices=choices, qmark="  STarT Back ›", style=STYLE,
                default=previous if previous in [c.value for c in choices] else None,
            ).unsafe_ask()
            answers.append(value)
        return answers

    # ------------------------------------------------------------------ output

    def invalid(self, question: Question, message: str) -> None:
        self.console.print(f"[red]  {message}[/red]")

    def alert(self, alert: LiveAlert) -> None:
        body = (f"[bold]{alert.tier_label.upper()}[/bold] - {alert.time_frame}\n"
                f"{alert.reason}\n[bold]Action:[/bold] {alert.action}")
        self.console.print(Panel(body, title=f"RED FLAG: {alert.label}", border_style="bold red",
                                 title_align="left"))

    def review(self, rows: list[ReviewRow]) -> str | None:
        table = Table(title="Review the answers", show_lines=False, header_style="bold")
        for column in ("#", "section", "question", "answer"):
            table.add_column(column, overflow="fold")
        section = None
        for row in rows:
            shown_section = row.question.section_title if row.question.section_title != section else ""
            section = row.question.section_title
            table.add_row(str(row.number), shown_section, row.question.label, row.shown)
        self.console.print(table)
        choice = questionary.select(
            "Save, or edit an answer?", style=STYLE, qmark="Review ›",
            choices=[Choice("Save and write the note", FINISH), Choice("Edit an answer", "edit")],
        ).unsafe_ask()
        if choice == FINISH:
            return None
        return questionary.select(
            "Which answer?", style=STYLE, qmark="Edit ›", use_search_filter=True, use_jk_keys=False,
            choices=[Choice(f"{r.number}. {r.question.label}: {r.shown}", r.question.id) for r in rows],
            instruction="(type to filter)",
        ).unsafe_ask()

    def message(self, text: str) -> None:
        self.console.print(text)

    # ------------------------------------------------------------------ practice mode

    def show(self, title: str, lines: list[str]) -> None:
        self.console.print(Panel("\n".join(lines), title=title, title_align="left", border_style="cyan"))

    def choose(self, text: str, choices: list[tuple[Any, str]], search: bool = False) -> Any:
        return questionary.select(
            text, choices=[Choice(label, value) for value, label in choices], style=STYLE, qmark="›",
            use_search_filter=search, use_jk_keys=not search,
            instruction="(type to filter)" if search else None,
        ).unsafe_ask()

    def choose_many(self, text: str, choices: list[tuple[Any, str]]) -> list[Any]:
        return questionary.checkbox(
            text, choices=[Choice(label, value) for value, label in choices], style=STYLE, qmark="›",
            instruction="(space to tick, enter when done)",
        ).unsafe_ask()

    # ---- practice paging (helper practice)

    def menu(self, text: str, choices: list[tuple[Any, str]], start: Any = None, erase: bool = False) -> Any:
        """One choice; the pointer starts on `start` (else the first); with `erase` the menu
        leaves no line behind, so what was shown above it stays on screen."""
        return questionary.select(
            text, choices=[Choice(label, value) for value, label in choices], style=STYLE, qmark="›",
            default=start, erase_when_done=erase,
        ).unsafe_ask()

    def note(self, text: str) -> None:
        """One indented line of rich markup whose wrapped lines keep the indent."""
        from rich.padding import Padding

        self.console.print(Padding(text, (0, 0, 0, 2)))

    def show_list(self, title: str, lines: list[str]) -> None:
        """Like `show`, but a line starting "  • " is a list item whose wrapped lines stay indented."""
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
        self.console.print(Panel(Group(*parts), title=title, title_align="left", border_style="cyan"))
