"""Generated blocks in hand-written documents: the text between `<!-- generated: NAME -->` and
`<!-- end generated -->` is replaced by what the code generates (docs and the safety case use it)."""

from __future__ import annotations

import re

from ..base.errors import LbpError


class DocsError(LbpError):
    """The documentation cannot be generated (a field without a description, a missing marker)."""


_BLOCK = re.compile(r"(<!-- generated: (?P<name>[a-z_]+) -->\n)(.*?)(<!-- end generated -->)", re.S)


def fill_blocks(text: str, blocks: dict[str, str], name: str) -> str:
    """`text` with the content between each `<!-- generated: NAME -->` and `<!-- end generated -->` replaced."""
    found = set()

    def replace(match: re.Match[str]) -> str:
        block = match.group("name")
        if block not in blocks:
            raise DocsError(f"{name}: unknown generated block `{block}`; expected one of: {', '.join(blocks)}")
        found.add(block)
        return match.group(1) + "\n" + blocks[block] + "\n" + match.group(4)

    result = _BLOCK.sub(replace, text)
    missing = [b for b in blocks if b not in found]
    if missing:
        raise DocsError(f"{name}: no `<!-- generated: {missing[0]} -->` ... `<!-- end generated -->` block")
    return result
