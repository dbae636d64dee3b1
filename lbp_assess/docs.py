"""`python -m lbp_assess.docs [--check] [ROOT]`: regenerate every generated document of a checkout.

Those of tooling.docs (the JSON Schema, the clinical rules, the case-format and FHIR tables, the
safety case) and the command-line reference docs/cli.md (cli.reference). This module sits above
the CLI layer, since the reference is read from the typer app; tooling never imports the CLI.
"""

from __future__ import annotations

import sys
from pathlib import Path


def generated(root: Path, *, run_mutation: bool = True) -> dict[Path, str]:
    """What every generated document of the checkout at `root` should contain."""
    from .cli.reference import CLI_FILE, cli_markdown
    from .tooling import docs

    return {**docs.generated(root, run_mutation=run_mutation), root / CLI_FILE: cli_markdown()}


def stale(root: Path) -> list[Path]:
    """The generated documents that differ from what the source would generate now."""
    from .tooling import docs

    return docs.differing(generated(root, run_mutation=False))


def main(argv: list[str] | None = None) -> int:
    from .tooling import docs

    return docs.main(argv, generate=generated)


if __name__ == "__main__":
    sys.exit(main())
