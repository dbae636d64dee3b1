"""L7, the command line: typer commands (app), the entry point and error-to-exit-code mapping (main),
everything drawn with rich (render) and the terminal prompter (prompts). The only home of typer,
rich (beyond markup escaping in base.text), questionary and prompt_toolkit.

This file imports nothing, so that `lbp-assess --version` stays quick.
"""
