"""Typed command lines (tyro) whose usage errors are one line.

    args = cli(Args, argv, description=__doc__)

tyro reports a bad command line in a framed box; here it becomes one line on stderr,
"<prog>: error: <what> (-h lists every flag)", and exit status 2, as the project's other usage
errors. `-h` prints tyro's full help as usual.
"""

import contextlib
import io
import os
import re
import sys
from collections.abc import Sequence
from typing import Any, TypeVar

T = TypeVar("T")


_SIDES = "\u2502\u256d\u256e\u2570\u256f|+"
_RULE = set("\u2500\u2550-= ")


def one_line(report: str) -> str:
    """tyro's usage-error report (a frame of box-drawing characters, or plain text with dashed rules
    where the console cannot draw one) -> its gist on one line: the content between the first two
    rules, its message (lines at the content's own indentation) and the flags it names
    (descriptions, title and help pointer dropped)."""
    content: list[tuple[int, str]] = []
    started = False
    for raw in report.splitlines():
        line = raw.rstrip()
        framed = line.lstrip().startswith(tuple(_SIDES))
        line = line.strip().strip(_SIDES) if framed else line
        text = line.strip()
        rule = bool(text) and (set(text) <= _RULE or (text[0] in _RULE and text[-1] in _RULE))
        if rule or not text or not started:
            if content and (rule or not text):
                break
            started = started or rule
            continue
        content.append((len(line) - len(line.lstrip()), text))
    if not content:
        return "bad command line"
    base = content[0][0]
    gist = [text for indent, text in content if indent <= base or text.startswith("-")]
    return re.sub(r"\s+", " ", " ".join(gist)).strip()


def command_name(argv0: str | None = None) -> str:
    """How the running command was typed: 'python -m train.collect' for a module of this project run with
    -m (sys.argv[0] is then its file), else the script's base name."""
    path = os.path.abspath(argv0 if argv0 is not None else (sys.argv[0] if sys.argv and sys.argv[0] else "command"))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rel = os.path.relpath(path, root)
    if path.endswith(".py") and not rel.startswith(".."):
        return "python -m " + rel[:-3].replace(os.sep, ".")
    return os.path.basename(path)


def cli(kind: type[T], args: Sequence[str] | None = None, **kwargs: Any) -> T:
    """`tyro.cli(kind, args=args, **kwargs)`; a usage error exits 2 with one line (module docstring).
    `prog` defaults to `command_name()`, so -h shows the command as it is typed."""
    import tyro

    kwargs.setdefault("prog", command_name())
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            result = tyro.cli(kind, args=args, **kwargs)
    except SystemExit as e:
        if e.code in (0, None):
            sys.stderr.write(captured.getvalue())
            raise
        prog = kwargs["prog"]
        print(f"{prog}: error: {one_line(captured.getvalue())} (-h lists every flag)", file=sys.stderr)
        raise SystemExit(2) from None
    sys.stderr.write(captured.getvalue())  # tyro's warnings, if any
    return result
