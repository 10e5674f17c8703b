"""mkdocs hooks: README.md is the site's home page, and links that leave docs/ are checked.

- The home page (`index.md`) is README.md itself, generated at build time, its links to
  `docs/...` made relative to the site. The README stays the one copy of its text.
- A link to a file of the repository outside docs/ (a results file, an example, a
  directory of records) cannot be served by the site: the hook checks that the file is in
  the repository (a missing one is a warning, so `mkdocs build --strict` fails on it, as it
  does for a broken link inside docs/) and keeps the link's text, which names the path.
  An image outside docs/ is a warning: the site shows only pictures under docs/
  (`python -m benchmarks.figures` writes them there).
"""

from __future__ import annotations

import logging
import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.site")

LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", flags=re.S | re.M)
README = "README.md"


def _root(config) -> Path:
    return Path(config["config_file_path"]).parent


def on_files(files, config):
    text = (_root(config) / README).read_text(encoding="utf-8")
    files.append(File.generated(config, "index.md", content=text))
    return files


def _rewrite(text: str, page_dir: str, docs: str, root: Path, where: str) -> str:
    def link(match: re.Match) -> str:
        bang, label, target = match.groups()
        if re.match(r"^[a-z]+:|^#", target):
            return match.group(0)
        path, _, anchor = target.partition("#")
        resolved = posixpath.normpath(posixpath.join(page_dir, path))
        if resolved == docs or resolved.startswith(docs + "/"):
            inside = posixpath.relpath(resolved, docs)
            rel = posixpath.relpath(inside, posixpath.relpath(page_dir, docs) if page_dir != "." else ".")
            if page_dir == ".":  # the README: docs/x.md -> x.md
                new = rel + ("/" if path.endswith("/") else "") + (f"#{anchor}" if anchor else "")
                return f"{bang}[{label}]({new})"
            return match.group(0)
        if resolved.startswith(".."):
            log.warning(f"{where}: link '{target}' leaves the repository")
            return match.group(0)
        if not (root / resolved).exists():
            log.warning(f"{where}: link '{target}' points to '{resolved}', which is not in the repository")
            return label
        if bang:
            log.warning(f"{where}: image '{target}' is outside docs/; the site shows only docs/ pictures")
            return match.group(0)
        return label

    parts, last = [], 0
    for fence in FENCE.finditer(text):
        parts.append(LINK.sub(link, text[last : fence.start()]))
        parts.append(fence.group(0))
        last = fence.end()
    parts.append(LINK.sub(link, text[last:]))
    return "".join(parts)


def on_page_markdown(markdown, page, config, files):
    root = _root(config)
    docs = posixpath.relpath(Path(config["docs_dir"]).resolve().as_posix(), root.resolve().as_posix())
    if page.file.src_uri == "index.md" and page.file.generated_by is not None:
        page_dir, where = ".", README
    else:
        page_dir = posixpath.join(docs, posixpath.dirname(page.file.src_uri)) or docs
        where = f"{docs}/{page.file.src_uri}"
    return _rewrite(markdown, posixpath.normpath(page_dir), docs, root, where)
