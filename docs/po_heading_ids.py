"""Give every translated heading the id its English heading has.

mdBook makes a heading's id from its text, so a translated heading gets a new
id and links such as ch03-listen-accept.md#the-accept-loop-contract would
lead nowhere in the zh-CN edition. This appends " {#english-id}" to the
translation of each heading (h2 and below) whose every occurrence is a
heading, so both editions share their anchors. `make po` runs it after
msgmerge; docs/po_test.go checks the result.

Usage: python3 docs/po_heading_ids.py docs/po/zh-CN.po
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
HEADING = re.compile(r"^(#{2,6})\s+(.*?)\s*$")


def normalize_id(text: str) -> str:
    """mdBook's id for a heading's text: alphanumerics, '_' and '-' kept
    (lower-cased), white space to '-', everything else dropped."""
    plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links: their text
    plain = plain.replace("`", "").replace("**", "").replace("*", "")
    return "".join(
        c.lower() if c.isalnum() or c in "_-" else "-" if c.isspace() else "" for c in plain
    )


def heading_lines() -> dict[tuple[str, int], str]:
    """(src/page.md, line number) of every h2-h6 heading outside code blocks."""
    out: dict[tuple[str, int], str] = {}
    for page in sorted((DOCS / "src").rglob("*.md")):
        rel = "src/" + page.relative_to(DOCS / "src").as_posix()
        fence = False
        for n, line in enumerate(page.read_text().splitlines(), 1):
            if line.lstrip().startswith("```"):
                fence = not fence
            elif not fence and (m := HEADING.match(line)):
                out[(rel, n)] = m.group(2)
    return out


def main(path: str) -> None:
    import polib  # a dev tool (python/requirements-dev.txt), not the book's

    headings = heading_lines()
    po = polib.pofile(path, wrapwidth=79)
    changed = 0
    for e in po:
        if not e.msgstr or "{#" in e.msgstr or not e.occurrences:
            continue
        places = [(f, int(n)) for f, n in e.occurrences]
        if all(p in headings for p in places):
            e.msgstr = f"{e.msgstr} {{#{normalize_id(e.msgid)}}}"
            changed += 1
    po.save(path)
    print(f"{changed} headings given their English ids")


if __name__ == "__main__":
    main(sys.argv[1])
