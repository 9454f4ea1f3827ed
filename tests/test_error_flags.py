"""Every `--flag` a message suggests exists on the command the user would run.

A new user follows the hint in an error ("pass --image-size") and must not meet "No such option".
Every string literal in src/aekit (docstrings aside) is scanned for flags. The command a flag
must exist on is the one the message names (`aekit train --resume`); otherwise the commands of
the cli/ module it is in, or the commands that reach the library module it is in (LIBRARY
below); a module in none of these may name the flag of any command.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import typer.main

from aekit.cli.entry import app

SRC = Path(__file__).resolve().parents[1] / "src"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*")

# Flags of other programs that messages quote (the tool's name, and why).
OTHER_TOOLS = {
    "--force-reinstall": "pip: reinstall scikit-image's sample photos",
    "--no-deps": "pip: music21 is installed without its dependencies (its corpus is data)",
    "--nproc-per-node": "torchrun: how many processes each node starts",
}

LATENT = {"generate", "perturb", "latent-plot", "sample", "interpolate", "manifold"}
# Library modules (path prefix under src/) -> the commands whose user reaches its messages.
LIBRARY = {
    "aekit/config.py": {"train"},
    "aekit/runs.py": {"train"},
    "aekit/training/": {"train"},
    "aekit/models/": {"train"},
    "aekit/modalities/images/data/pack.py": {"pack"},  # before the data/ prefix: first match
    "aekit/modalities/images/data/": {"train"},
    "aekit/modalities/images/tasks.py": {"train"},
    "aekit/runtime/": {"train", "demo", "serve"},
    "aekit/latent/generation.py": LATENT,
    "aekit/latent/likelihood.py": {"eval", "report"},
    "aekit/inference.py": {"reconstruct", "denoise", "upscale", "perturb", "interpolate"},
    "aekit/reports/": {"report", "demo"},
    "aekit/demo.py": {"demo"},
    "aekit/server/": {"serve"},
    "aekit/evaluation/": {"eval"},
}
# Messages that send the user to another command without naming it before the flag.
ELSEWHERE = {
    ("aekit/cli/images.py", "--task"): {"train"},  # "train one with --task ..."
    ("aekit/demo.py", "--set"): {"train"},  # the `aekit train` line that repeats a demo run
    ("aekit/reports/html.py", "--set"): {"train"},  # "All settings (as --set keys)"
}


def command_options() -> dict[str, tuple[str, set[str]]]:
    """command name -> (the module defining it, its --options); "" is `aekit` itself, whose
    options (--version, --install-completion) come before any command."""
    group = typer.main.get_command(app)
    return {
        name: (
            command.callback.__module__,
            {o for p in command.params for o in (*p.opts, *p.secondary_opts) if o[:2] == "--"},
        )
        for name, command in [("", group), *group.commands.items()]
    }


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings or other bare string statements."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }


def messages(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every non-docstring string literal; an f-string's literal parts are
    joined, so `aekit train` and the flag after a {placeholder} count as one message."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = docstrings(tree)
    found, inside = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [v for v in node.values if isinstance(v, ast.Constant)]
            inside.update(id(v) for v in parts)
            found.append((node.lineno, " {} ".join(v.value for v in parts)))
    for node in ast.walk(tree):
        is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if is_text and id(node) not in skip and id(node) not in inside:
            found.append((node.lineno, node.value))
    return [(line, text) for line, text in found if FLAG.search(text)]


def expected_commands(rel: str, flag: str, before: str, options: dict) -> set[str]:
    """The commands `flag` must be one of: `before` is the message's text up to the flag."""
    named = [name for name in re.findall(r"\baekit ([a-z][a-z-]*)", before) if name in options]
    if named:  # the last command the message names before the flag
        return {named[-1]}
    if (rel, flag) in ELSEWHERE:
        return ELSEWHERE[rel, flag]
    if rel.startswith("aekit/cli/"):
        module = rel[: -len(".py")].replace("/", ".")
        # not the root: cli/common.py's flags are the root's and those every command shares
        defined = {name for name, (mod, _) in options.items() if mod == module and name}
        if defined:
            return defined
    for prefix, commands in LIBRARY.items():
        if rel.startswith(prefix):
            return commands
    return set(options)


def all_suggestions() -> list[tuple[str, int, str, str]]:
    """(module path, line, flag, the message up to and including the flag)."""
    return [
        (str(path.relative_to(SRC)), line, match.group(), text[: match.end()])
        for path in sorted((SRC / "aekit").rglob("*.py"))
        for line, text in messages(path)
        for match in FLAG.finditer(text)
    ]


def test_the_scan_finds_the_messages_it_should():
    found = {(rel, flag) for rel, _, flag, _ in all_suggestions()}
    # one of each kind: an AekitError, an f-string hint, a message kept in a variable
    assert ("aekit/modalities/images/data/local.py", "--image-size") in found
    assert ("aekit/cli/train.py", "--resume") in found
    assert ("aekit/training/checkpoint.py", "--out") in found


def test_the_maps_name_real_commands():
    options = command_options()
    for commands in [*LIBRARY.values(), *ELSEWHERE.values()]:
        assert commands <= set(options), commands - set(options)


def problems(suggestions: list, options: dict) -> list[str]:
    wrong = []
    for rel, line, flag, text in suggestions:
        if flag in OTHER_TOOLS:
            continue
        commands = expected_commands(rel, flag, text[: -len(flag)], options)
        if not any(flag in options[name][1] for name in commands):
            wrong.append(f"{rel}:{line}: {flag} is no option of {sorted(commands)}: {text!r}")
    return wrong


def test_every_suggested_flag_exists_on_its_command():
    wrong = problems(all_suggestions(), command_options())
    assert not wrong, "\n".join(wrong)


def test_a_flag_missing_from_its_command_is_caught():
    """The bug that started this: the folder loader said --image-size, which `aekit train`
    lacked (and `aekit serve` has a --limit, which does not make it a train option)."""
    options = command_options()
    module, train_options = options["train"]
    options["train"] = (module, train_options - {"--image-size"})
    hint = [("aekit/modalities/images/data/local.py", 133, "--image-size", "pass --image-size")]
    assert len(problems(hint, options)) == 1
    assert problems(hint, command_options()) == []


@pytest.mark.parametrize(
    "before, flag, commands",
    [
        ("continue with: aekit train ", "--resume", {"train"}),
        ("use `aekit sample ", "--label", {"sample"}),
        ("see aekit models; use aekit eval ", "--json", {"eval"}),
        ("pass ", "--set", {"train"}),  # no command named: the commands models/ serves
    ],
)
def test_a_message_that_names_its_command_is_checked_against_it(before, flag, commands):
    assert expected_commands("aekit/models/vae.py", flag, before, command_options()) == commands
