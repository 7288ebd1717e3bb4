"""mjx_gr00t.cli_args: tyro's framed usage errors become one line (exit 2); help and good command lines
pass through."""

import dataclasses
import re
from typing import Literal

import pytest

from mjx_gr00t.cli_args import cli


@dataclasses.dataclass(frozen=True)
class Args:
    """A test command."""

    out: str
    """Where to write."""
    episodes: int = 20
    """How many, a number that is long enough to be wrapped over several lines of tyro's help text
    when it explains itself."""
    keep: Literal["successes", "all"] = "successes"
    """Which."""


@pytest.mark.parametrize("argv, message", [
    (["--out", "x", "--bogus"], r"error: Unrecognized options: --bogus \(-h lists every flag\)"),
    ([], r"error: Missing from .*: --out STR \(-h lists every flag\)"),
    (["--out", "x", "--episodes", "abc"], "error: Error parsing --episodes: invalid literal for int.*'abc' \\(-h"),
    (["--out", "x", "--keep", "some"], "error: invalid choice 'some' for argument '--keep'. Expected one of "
                                       "\\('successes', 'all'\\). \\(-h"),
])
def test_a_usage_error_is_one_line(capsys, argv, message):
    with pytest.raises(SystemExit) as e:
        cli(Args, argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "\u2502" not in err, err
    assert re.search(message, err), err


def test_help_and_good_lines_pass_through(capsys):
    assert cli(Args, ["--out", "d", "--episodes", "3"]) == Args(out="d", episodes=3)
    with pytest.raises(SystemExit) as e:
        cli(Args, ["-h"])
    assert e.value.code == 0 and "--episodes INT" in capsys.readouterr().out


def test_the_command_is_named_as_it_is_typed():
    import os

    from mjx_gr00t.cli_args import command_name

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    assert command_name(os.path.join(root, "train", "collect.py")) == "python -m train.collect"
    assert command_name(os.path.join(root, "benchmarks", "learned_base.py")) == "python -m benchmarks.learned_base"
    assert command_name("/usr/bin/some-tool") == "some-tool"
