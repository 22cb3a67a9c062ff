"""Every ``# type: ignore`` in gateway/, providers/ and storage/ names its error code and says
why on the same line (``# type: ignore[code]  # why``): mypy (``make typecheck``) reports the
ones no longer needed; this keeps the rest explained."""

from __future__ import annotations

import re

from tests.support.paths import ROOT

EXPLAINED = re.compile(r"# type: ignore\[[a-z0-9,-]+\]  # \S")


def test_every_type_ignore_names_its_code_and_its_reason():
    unexplained = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for package in ("gateway", "providers", "storage")
        for path in sorted((ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "type: ignore" in line and not EXPLAINED.search(line)
    ]
    assert unexplained == []
