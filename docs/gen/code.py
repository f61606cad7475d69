"""Links from the docs to lines of code, found by searching for a symbol at build time so they never rot.

Prose links to a file outside docs/ with the symbol as the link title, a plain Markdown link that
also works on a code host: ``[the saga](../services/checkout/saga.py "class Saga > async def run")``.
The generator resolves the symbol to a line (``>`` narrows: the first match after the previous one),
links to a page of the site that shows the file with line numbers, and fails the build when the file
or the symbol is gone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[2]
CODE_DIR = "code"  # where the source pages go inside the staged docs
LANGUAGES = {".py": "python", ".md": "markdown", ".toml": "toml", ".yml": "yaml", ".yaml": "yaml", ".json": "json"}
LANGUAGES |= {".sh": "bash", ".js": "javascript", ".html": "html", ".css": "css", ".sql": "sql", ".ini": "ini"}


class LinkError(ValueError):
    """A link names a file or a symbol that is not in the repository."""


def find_line(path: str, symbol: str, root: Path = ROOT) -> int:
    """The 1-based line where ``symbol`` first occurs in ``path`` (``a > b``: the first ``b`` after ``a``)."""
    file = root / path
    if not file.is_file():
        raise LinkError(f"{path}: no such file in the repository")
    lines = file.read_text(encoding="utf-8").splitlines()
    start = 0
    for part in (p.strip() for p in symbol.split(" > ")):
        hit = next((i for i in range(start, len(lines)) if part in lines[i]), None)
        if hit is None:
            raise LinkError(f"{path}: {part!r} not found" + (f" after line {start}" if start else ""))
        start = hit
    return start + 1


def heading_line(path: str, anchor: str, root: Path = ROOT) -> int:
    """The line of the Markdown heading whose GitHub-style anchor is ``anchor``."""
    for number, line in enumerate((root / path).read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("#") and slug(line.lstrip("#").strip()) == anchor:
            return number
    raise LinkError(f"{path}: no heading with the anchor #{anchor}")


def slug(heading: str) -> str:
    """The anchor a code host gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.lower())
    return text.replace(" ", "-")


def line_anchor(line: int) -> str:
    """The id of a line's number on a source page (pymdownx.highlight with anchor_linenums)."""
    return f"__codelineno-0-{line}"


@dataclass
class Sources:
    """The repository files the docs link to; each gets one page of the site."""

    root: Path = ROOT
    files: set[str] = field(default_factory=set)

    def page(self, path: str) -> str:
        """The staged page that shows ``path`` (relative to the docs root)."""
        self.files.add(path)
        return f"{CODE_DIR}/{path}.md"

    def link(self, path: str, symbol: str | None, from_page: str, anchor: str | None = None) -> str:
        """A relative URL from ``from_page`` to ``path``, at ``symbol``'s line (or a heading's ``anchor``)."""
        if (self.root / path).is_dir():
            path = f"{path.rstrip('/')}/README.md"
        if not (self.root / path).is_file():
            raise LinkError(f"{path}: no such file in the repository")
        target = relative(self.page(path), from_page)
        if symbol:
            return f"{target}#{line_anchor(find_line(path, symbol, self.root))}"
        if anchor and path.endswith(".md"):
            return f"{target}#{line_anchor(heading_line(path, anchor, self.root))}"
        return target

    def write(self, out: Path, commit: str) -> list[str]:
        """Write a page per linked file under ``out/code/``; returns the pages written."""
        pages = []
        for path in sorted(self.files):
            text = (self.root / path).read_text(encoding="utf-8")
            fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
            language = LANGUAGES.get(PurePosixPath(path).suffix, "text")
            page = out / CODE_DIR / f"{path}.md"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(
                f"# {path}\n\n"
                f"The file as it was when this site was built (commit `{commit}`, "
                f"{len(text.splitlines())} lines). Links from the other pages land on a line of it.\n\n"
                f'{fence}{language} linenums="1"\n{text.rstrip()}\n{fence}\n',
                encoding="utf-8",
            )
            pages.append(page.relative_to(out).as_posix())
        return pages


def code_link(path: str, symbol: str, label: str | None = None, *, sources: Sources, from_page: str) -> str:
    """A Markdown link to the line of ``path`` where ``symbol`` is: ``[label](…#line)``."""
    url = sources.link(path, symbol, from_page)
    return f"[{label or f'{PurePosixPath(path).name}:{find_line(path, symbol, sources.root)}'}]({url})"


def relative(target: str, from_page: str) -> str:
    """``target`` (a path under the docs root) as a link relative to the page ``from_page``."""
    depth = len(PurePosixPath(from_page).parts) - 1
    return "../" * depth + target


LINK = re.compile(r'(!?)\[([^\]]*)\]\(([^)\s]+)(?:\s+"([^"]*)")?\)')
FENCE = re.compile(r"^\s*(```|~~~)")


def rewrite(text: str, page: str, docs_src: Path, sources: Sources) -> str:
    """Resolve links that leave docs/ (``page`` is where the text lives in docs/) into source-page links."""
    out, fenced = [], None
    for line in text.splitlines(keepends=True):
        mark = FENCE.match(line)
        if mark and (fenced is None or mark.group(1) == fenced):
            fenced = None if fenced else mark.group(1)
        out.append(line if fenced or mark else LINK.sub(lambda m: _resolve(m, page, docs_src, sources), line))
    return "".join(out)


def _resolve(m: re.Match[str], page: str, docs_src: Path, sources: Sources) -> str:
    bang, label, url, title = m.groups()
    if re.match(r"^[a-z]+:|^#|^/", url):
        return m.group(0)  # external, in-page or absolute: left alone
    target, _, anchor = url.partition("#")
    in_docs = (docs_src / PurePosixPath(page).parent / target).resolve()
    try:
        repo_path = in_docs.relative_to(sources.root).as_posix()
    except ValueError as exc:
        raise LinkError(f"{page}: link {url} leaves the repository") from exc
    if repo_path.startswith("docs/") and not repo_path.startswith("docs/gen/") and not title:
        return m.group(0)  # a page or a picture of the site, maybe generated: the site generator checks it
    return f"{bang}[{label}]({sources.link(repo_path, title, page, anchor or None)})"
