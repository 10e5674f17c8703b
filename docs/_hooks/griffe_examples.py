"""A griffe extension for the API reference: Keras-style `Example:` sections are examples.

The package's docstrings follow Keras: an `Example:` title, then the example unindented
(a fenced block or `>>>` lines). griffe's Google-style parser reads a section's body only
when indented under its title, and reads only `Examples:` (plural) as examples (`>>>`
lines become code); anything else would render as Markdown, `>>>` as nested quotes. This
extension indents such a section under an `Examples:` title, up to the next section.
"""

import re

import griffe

_TITLE = re.compile(r"^Example:[ \t]*$")
_NEXT_SECTION = re.compile(r"^[A-Z][A-Za-z ]*:[ \t]*$")


def keras_examples(text: str) -> str:
    lines, out, inside = text.split("\n"), [], False
    for line in lines:
        if _TITLE.match(line):
            out.append("Examples:")
            inside = True
            continue
        if inside and _NEXT_SECTION.match(line):
            inside = False
        if inside:
            if not line.strip() and out and out[-1] == "Examples:":
                continue  # the blank line under the title
            out.append("    " + line if line.strip() else "")
        else:
            out.append(line)
    return "\n".join(out)


class KerasExamples(griffe.Extension):
    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None and "Example:" in obj.docstring.value:
            obj.docstring.value = keras_examples(obj.docstring.value)
