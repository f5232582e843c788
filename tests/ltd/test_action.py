"""The GitHub Action (action.yml): its wiring is consistent, its scripts call
real `ltd` flags, and the comment step works when bash runs it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

from ltd.admin import register
from tests.ltd.github_api import BOT, REPO, FakeGitHub, fake_github

ACTION = Path(__file__).resolve().parents[2] / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@pytest.fixture(scope="module")
def action() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return loaded


def steps(action: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = action["runs"]["steps"]
    return found


def step(action: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in steps(action) if s.get("id") == step_id)


def strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def expressions(action: dict[str, Any]) -> list[str]:
    """Every ``${{ … }}`` and every ``if:`` (an implicit expression)."""
    found = [e for s in strings(action) for e in EXPRESSION.findall(s)]
    found += [str(s["if"]) for s in steps(action) if "if" in s]
    return found


def flags(script: str) -> set[str]:
    """The ``--flags`` a step's script passes; each step runs one command."""
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", script))


def help_flags(*command: str) -> set[str]:
    group = click.Group("ltd")
    register(group)
    result = CliRunner().invoke(group, [*command, "--help"])
    assert result.exit_code == 0, result.output
    return set(re.findall(r"(--[a-z][a-z0-9-]*)", result.output))


def test_composite_action_with_the_promised_interface(action: dict[str, Any]) -> None:
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == {
        "dir",
        "org",
        "product",
        "host",
        "token",
        "git-ref",
        "comment",
        "github-token",
        "python-version",
        "version",
    }
    assert action["inputs"]["comment"]["default"] == "true"
    assert action["inputs"]["github-token"]["default"] == "${{ github.token }}"
    assert set(action["outputs"]) == {"build-id", "urls", "url"}
    for name, output in action["outputs"].items():
        assert output["value"] == f"${{{{ steps.upload.outputs.{name} }}}}"
    assert any(
        str(s.get("uses", "")).startswith("actions/setup-python@")
        for s in steps(action)
    )


def test_every_input_and_step_output_used_exists(action: dict[str, Any]) -> None:
    declared = set(action["inputs"])
    ids = {s["id"] for s in steps(action) if "id" in s}
    for expression in expressions(action):
        for name in re.findall(r"\binputs\.([A-Za-z0-9_-]+)", expression):
            assert name in declared, f"undeclared input {name!r} in {expression!r}"
        for sid in re.findall(r"\bsteps\.([A-Za-z0-9_-]+)\.", expression):
            assert sid in ids, f"unknown step {sid!r} in {expression!r}"
    # Each step that runs a script says which shell (composite actions must).
    assert all("shell" in s for s in steps(action) if "run" in s)


def test_scripts_take_inputs_through_the_environment(action: dict[str, Any]) -> None:
    """An expression inside ``run`` is pasted into the script before bash
    sees it, so a branch named ``$(curl …)`` would run; env keeps it data."""
    for s in steps(action):
        assert "${{" not in s.get("run", ""), s.get("name")


def test_the_token_never_goes_on_the_command_line(action: dict[str, Any]) -> None:
    upload = step(action, "upload")
    assert upload["env"]["LTD_TOKEN"] == "${{ inputs.token }}"
    assert "--token" not in flags(upload["run"])


def test_upload_step_uses_the_agreed_flags(action: dict[str, Any]) -> None:
    used = flags(step(action, "upload")["run"])
    assert used == {
        "--org",
        "--product",
        "--dir",
        "--host",
        "--git-ref",
        "--github-output",
    }


def test_upload_step_flags_exist_once_ltd_upload_does(action: dict[str, Any]) -> None:
    try:
        from ltd.upload import upload
    except ImportError:
        pytest.skip("ltd upload is not there yet")
    result = CliRunner().invoke(upload, ["--help"])
    offered = set(re.findall(r"(--[a-z][a-z0-9-]*)", result.output))
    assert flags(step(action, "upload")["run"]) <= offered
    # The token is read from LTD_TOKEN, which the step sets.
    token = next(p for p in upload.params if p.name == "token")
    assert token.envvar == "LTD_TOKEN"


def test_comment_step_uses_real_flags(action: dict[str, Any]) -> None:
    comment = next(s for s in steps(action) if "github comment" in s.get("run", ""))
    used = flags(comment["run"])
    assert used == {"--repo", "--pr", "--marker", "--body-file"}
    assert used <= help_flags("github", "comment")
    assert "pull_request" in comment["if"] and "inputs.comment" in comment["if"]


# -- the comment step, run by bash -----------------------------------------


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    with fake_github() as state:
        yield state


def _ltd_command(tmp_path: Path) -> str:
    """`ltd` with the github group: the installed one once ltd/cli.py
    registers it, else a stand-in that builds the same group."""
    from ltd.cli import main

    installed = Path(sys.executable).parent / "ltd"
    if "github" in main.commands and installed.exists():
        return str(installed)
    wrapper = tmp_path / "ltd"
    wrapper.write_text(
        f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -c '"
        "import click; from ltd.admin import register; "
        'group = click.Group("ltd"); register(group); group(prog_name="ltd")'
        '\' "$@"\n'
    )
    wrapper.chmod(0o755)
    return str(wrapper)


def run_comment_step(
    action: dict[str, Any], github: FakeGitHub, tmp_path: Path, urls: list[str]
) -> subprocess.CompletedProcess[str]:
    comment = next(s for s in steps(action) if "github comment" in s.get("run", ""))
    context = {
        "steps.install.outputs.ltd": _ltd_command(tmp_path),
        "inputs.github-token": "gh-write-token",
        "inputs.product": "pipelines",
        "github.event.pull_request.number": "12",
        "github.event.pull_request.head.sha": "0123456789abcdef",
        "steps.upload.outputs.build-id": "b42",
        "steps.upload.outputs.url": urls[0],
        "steps.upload.outputs.urls": "\n".join(urls),
    }

    def evaluate(match: re.Match[str]) -> str:
        return context[match.group(1)]  # a KeyError names an unknown one

    env = {
        name: EXPRESSION.sub(evaluate, value) for name, value in comment["env"].items()
    }
    runner = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_API_URL": github.url,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_RUN_ID": "777",
    }
    return subprocess.run(
        ["bash", "-c", comment["run"]],
        env={**runner, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_comment_step_creates_then_updates_one_comment(
    action: dict[str, Any], github: FakeGitHub, tmp_path: Path
) -> None:
    github.reset()
    first = run_comment_step(
        action, github, tmp_path, ["https://pipelines.lsst.io/v/feature-x/"]
    )
    assert first.returncode == 0, first.stderr
    [made] = github.on(12)
    assert made.login == BOT
    assert made.body.startswith("<!-- ltd-preview-pipelines -->\n")
    assert "https://pipelines.lsst.io/v/feature-x/" in made.body
    assert "`b42`" in made.body and "0123456" in made.body
    assert "https://github.com/lsst/docs/actions/runs/777" in made.body

    urls = ["https://pipelines.lsst.io/v/feature-x/", "https://pipelines.lsst.io/"]
    second = run_comment_step(action, github, tmp_path, urls)
    assert second.returncode == 0, second.stderr
    [updated] = github.on(12)
    assert updated.id == made.id
    assert "Also showing this build:\n- https://pipelines.lsst.io/\n" in updated.body


@pytest.mark.parametrize("git_ref", ["", "tickets/DM-1"])
def test_upload_step_passes_inputs_as_arguments(
    action: dict[str, Any], tmp_path: Path, git_ref: str
) -> None:
    """Bash runs the step with an `ltd` that records what it was given."""
    record = tmp_path / "args"
    fake = tmp_path / "fake-ltd"
    fake.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\necho "$LTD_TOKEN" >> {record}\n'
    )
    fake.chmod(0o755)
    context = {
        "steps.install.outputs.ltd": str(fake),
        "inputs.host": "https://keeper.example.org",
        "inputs.token": "s3cret",
        "inputs.dir": "docs/_build/html",
        "inputs.org": "lsst",
        "inputs.product": "pipelines",
        "inputs.git-ref": git_ref,
    }
    upload = step(action, "upload")
    env = {
        name: EXPRESSION.sub(lambda m: context[m.group(1)], value)
        for name, value in upload["env"].items()
    }
    done = subprocess.run(
        ["bash", "-c", upload["run"]],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    *args, token = record.read_text().splitlines()
    expected = [
        "upload",
        "--org", "lsst",
        "--product", "pipelines",
        "--dir", "docs/_build/html",
        "--host", "https://keeper.example.org",
        "--github-output",
    ]  # fmt: skip
    if git_ref:
        expected += ["--git-ref", git_ref]
    assert args == expected
    assert token == "s3cret"
