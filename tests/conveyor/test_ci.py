"""CI detection from each service's own variables, as a real run sets them.

The variable sets below are trimmed copies of what each service exports
(including the empty strings some of them set), one row per kind of run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from conveyor.ci import CiInfo, detect_ci, skip_requested

SHA = "4f9a1c7e3b2d8f6a5c4e3d2b1a0f9e8d7c6b5a49"
HEAD_SHA = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c"

GITHUB = {
    "CI": "true",
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_API_URL": "https://api.github.com",
    "GITHUB_REPOSITORY": "lsst/pipelines_docs",
    "GITHUB_RUN_ID": "9876543210",
    "GITHUB_RUN_ATTEMPT": "1",
    "GITHUB_SHA": SHA,
    "GITHUB_WORKFLOW": "docs",
    "GITHUB_HEAD_REF": "",
    "GITHUB_BASE_REF": "",
}
GITHUB_RUN = "https://github.com/lsst/pipelines_docs/actions/runs/9876543210"

GITLAB = {
    "CI": "true",
    "GITLAB_CI": "true",
    "CI_SERVER_URL": "https://gitlab.example.org",
    "CI_PROJECT_PATH": "rubin/docs/pipelines",
    "CI_COMMIT_SHA": SHA,
    "CI_PIPELINE_ID": "4411",
    "CI_PIPELINE_URL": "https://gitlab.example.org/rubin/docs/pipelines/-/pipelines/4411",
    "CI_JOB_URL": "https://gitlab.example.org/rubin/docs/pipelines/-/jobs/99001",
}
GITLAB_PIPELINE = GITLAB["CI_PIPELINE_URL"]

JENKINS = {
    "JENKINS_URL": "https://ci.example.org/",
    "JENKINS_HOME": "/var/jenkins_home",
    "BUILD_NUMBER": "57",
    "BUILD_URL": "https://ci.example.org/job/docs/57/",
    "GIT_COMMIT": SHA,
    "GIT_URL": "https://github.com/lsst/pipelines_docs.git",
}
JENKINS_BUILD = JENKINS["BUILD_URL"]

TRAVIS = {
    "CI": "true",
    "TRAVIS": "true",
    "TRAVIS_REPO_SLUG": "lsst/pipelines_docs",
    "TRAVIS_COMMIT": SHA,
    "TRAVIS_BUILD_WEB_URL": "https://app.travis-ci.com/lsst/pipelines_docs/builds/123",
    "TRAVIS_JOB_WEB_URL": "https://app.travis-ci.com/lsst/pipelines_docs/jobs/456",
    "TRAVIS_TAG": "",
    "TRAVIS_PULL_REQUEST": "false",
    "TRAVIS_PULL_REQUEST_BRANCH": "",
    "TRAVIS_PULL_REQUEST_SHA": "",
}
TRAVIS_BUILD = TRAVIS["TRAVIS_BUILD_WEB_URL"]

CASES: list[tuple[str, dict[str, str], CiInfo | None]] = [
    # -- GitHub Actions --------------------------------------------------
    (
        "github push of a branch",
        {
            **GITHUB,
            "GITHUB_EVENT_NAME": "push",
            "GITHUB_REF": "refs/heads/tickets/DM-123",
            "GITHUB_REF_NAME": "tickets/DM-123",
            "GITHUB_REF_TYPE": "branch",
        },
        CiInfo(
            "github", "tickets/DM-123", SHA, GITHUB_RUN, None, "lsst/pipelines_docs"
        ),
    ),
    (
        "github push of a tag",
        {
            **GITHUB,
            "GITHUB_EVENT_NAME": "push",
            "GITHUB_REF": "refs/tags/v1.2",
            "GITHUB_REF_NAME": "v1.2",
            "GITHUB_REF_TYPE": "tag",
        },
        CiInfo("github", "v1.2", SHA, GITHUB_RUN, None, "lsst/pipelines_docs"),
    ),
    (
        "github pull_request: head branch, number from the merge ref",
        {
            **GITHUB,
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_REF": "refs/pull/42/merge",
            "GITHUB_REF_NAME": "42/merge",
            "GITHUB_HEAD_REF": "feature/switcher",
            "GITHUB_BASE_REF": "main",
        },
        CiInfo(
            "github", "feature/switcher", SHA, GITHUB_RUN, 42, "lsst/pipelines_docs"
        ),
    ),
    (
        "github workflow_dispatch on a branch",
        {
            **GITHUB,
            "GITHUB_EVENT_NAME": "workflow_dispatch",
            "GITHUB_REF": "refs/heads/main",
            "GITHUB_REF_NAME": "main",
            "GITHUB_REF_TYPE": "branch",
        },
        CiInfo("github", "main", SHA, GITHUB_RUN, None, "lsst/pipelines_docs"),
    ),
    (
        "github workflow_dispatch with no usable ref: ask for --git-ref",
        {**GITHUB, "GITHUB_EVENT_NAME": "workflow_dispatch", "GITHUB_REF": ""},
        CiInfo("github", None, SHA, GITHUB_RUN, None, "lsst/pipelines_docs"),
    ),
    (
        "github on GitHub Enterprise Server",
        {
            **GITHUB,
            "GITHUB_SERVER_URL": "https://github.example.org/",
            "GITHUB_EVENT_NAME": "push",
            "GITHUB_REF": "refs/heads/main",
        },
        CiInfo(
            "github",
            "main",
            SHA,
            "https://github.example.org/lsst/pipelines_docs/actions/runs/9876543210",
            None,
            "lsst/pipelines_docs",
        ),
    ),
    # -- GitLab CI -------------------------------------------------------
    (
        "gitlab branch pipeline",
        {
            **GITLAB,
            "CI_PIPELINE_SOURCE": "push",
            "CI_COMMIT_BRANCH": "main",
            "CI_COMMIT_REF_NAME": "main",
        },
        CiInfo("gitlab", "main", SHA, GITLAB_PIPELINE, None, "rubin/docs/pipelines"),
    ),
    (
        "gitlab tag pipeline: the tag wins",
        {
            **GITLAB,
            "CI_PIPELINE_SOURCE": "push",
            "CI_COMMIT_TAG": "v2.3.1",
            "CI_COMMIT_REF_NAME": "v2.3.1",
            # Not set by GitLab on tag pipelines; a stray one must not win.
            "CI_COMMIT_BRANCH": "main",
        },
        CiInfo("gitlab", "v2.3.1", SHA, GITLAB_PIPELINE, None, "rubin/docs/pipelines"),
    ),
    (
        "gitlab detached merge request pipeline",
        {
            **GITLAB,
            "CI_PIPELINE_SOURCE": "merge_request_event",
            "CI_COMMIT_REF_NAME": "feature/x",
            "CI_MERGE_REQUEST_IID": "17",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/x",
            "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
            "CI_MERGE_REQUEST_EVENT_TYPE": "detached",
        },
        CiInfo("gitlab", "feature/x", SHA, GITLAB_PIPELINE, 17, "rubin/docs/pipelines"),
    ),
    (
        "gitlab job without a pipeline URL falls back to the job URL",
        {
            **{k: v for k, v in GITLAB.items() if k != "CI_PIPELINE_URL"},
            "CI_COMMIT_BRANCH": "main",
        },
        CiInfo(
            "gitlab", "main", SHA, GITLAB["CI_JOB_URL"], None, "rubin/docs/pipelines"
        ),
    ),
    (
        "gitlab pipeline with neither branch nor tag: ask for --git-ref",
        {**GITLAB, "CI_PIPELINE_SOURCE": "api"},
        CiInfo("gitlab", None, SHA, GITLAB_PIPELINE, None, "rubin/docs/pipelines"),
    ),
    # -- Jenkins ---------------------------------------------------------
    (
        "jenkins freestyle job: origin/ stripped from GIT_BRANCH",
        {**JENKINS, "GIT_BRANCH": "origin/tickets/DM-9"},
        CiInfo(
            "jenkins", "tickets/DM-9", SHA, JENKINS_BUILD, None, "lsst/pipelines_docs"
        ),
    ),
    (
        "jenkins multibranch branch job",
        {**JENKINS, "BRANCH_NAME": "main", "GIT_BRANCH": "main"},
        CiInfo("jenkins", "main", SHA, JENKINS_BUILD, None, "lsst/pipelines_docs"),
    ),
    (
        "jenkins multibranch tag job",
        {**JENKINS, "BRANCH_NAME": "v3.0.0", "TAG_NAME": "v3.0.0"},
        CiInfo("jenkins", "v3.0.0", SHA, JENKINS_BUILD, None, "lsst/pipelines_docs"),
    ),
    (
        "jenkins multibranch pull request",
        {
            **JENKINS,
            "BRANCH_NAME": "PR-24",
            "CHANGE_ID": "24",
            "CHANGE_BRANCH": "feature/y",
            "CHANGE_TARGET": "main",
            "CHANGE_URL": "https://github.com/lsst/pipelines_docs/pull/24",
        },
        CiInfo("jenkins", "feature/y", SHA, JENKINS_BUILD, 24, "lsst/pipelines_docs"),
    ),
    (
        "jenkins without a branch: ask for --git-ref",
        {**JENKINS, "GIT_URL": "git@github.com:lsst/pipelines_docs.git"},
        CiInfo("jenkins", None, SHA, JENKINS_BUILD, None, "lsst/pipelines_docs"),
    ),
    (
        "jenkins detached checkout: GIT_BRANCH says detached",
        {**JENKINS, "GIT_BRANCH": "detached"},
        CiInfo("jenkins", None, SHA, JENKINS_BUILD, None, "lsst/pipelines_docs"),
    ),
    (
        "jenkins checkout of a sha: GIT_BRANCH is the sha",
        {**JENKINS, "GIT_BRANCH": SHA},
        CiInfo("jenkins", None, SHA, JENKINS_BUILD, None, "lsst/pipelines_docs"),
    ),
    # -- Travis CI -------------------------------------------------------
    (
        "travis branch build",
        {**TRAVIS, "TRAVIS_BRANCH": "main", "TRAVIS_EVENT_TYPE": "push"},
        CiInfo("travis", "main", SHA, TRAVIS_BUILD, None, "lsst/pipelines_docs"),
    ),
    (
        "travis tag build: TRAVIS_BRANCH is the tag too",
        {**TRAVIS, "TRAVIS_TAG": "v1.0.0", "TRAVIS_BRANCH": "v1.0.0"},
        CiInfo("travis", "v1.0.0", SHA, TRAVIS_BUILD, None, "lsst/pipelines_docs"),
    ),
    (
        "travis pull request: TRAVIS_BRANCH is the target, not what was built",
        {
            **TRAVIS,
            "TRAVIS_EVENT_TYPE": "pull_request",
            "TRAVIS_BRANCH": "main",
            "TRAVIS_PULL_REQUEST": "7",
            "TRAVIS_PULL_REQUEST_BRANCH": "feature/z",
            "TRAVIS_PULL_REQUEST_SHA": HEAD_SHA,
        },
        CiInfo("travis", "feature/z", SHA, TRAVIS_BUILD, 7, "lsst/pipelines_docs"),
    ),
    # -- none ------------------------------------------------------------
    ("a laptop", {"HOME": "/home/me", "PATH": "/usr/bin"}, None),
    ("CI=true alone names no service", {"CI": "true"}, None),
]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [pytest.param(env, want, id=name) for name, env, want in CASES],
)
def test_detect_ci(environ: dict[str, str], expected: CiInfo | None) -> None:
    assert detect_ci(environ) == expected


def _event_file(tmp_path: Path, payload: Mapping[str, object]) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return str(path)


def test_github_pull_request_target_reads_the_event_file(tmp_path: Path) -> None:
    """For pull_request_target GITHUB_REF and GITHUB_SHA are the base
    branch's: the number and the head commit only come from the payload."""
    payload = {
        "action": "synchronize",
        "number": 31,
        "pull_request": {
            "number": 31,
            "head": {"ref": "fork-feature", "sha": HEAD_SHA},
            "base": {"ref": "main", "sha": SHA},
        },
    }
    environ = {
        **GITHUB,
        "GITHUB_EVENT_NAME": "pull_request_target",
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_HEAD_REF": "fork-feature",
        "GITHUB_BASE_REF": "main",
        "GITHUB_EVENT_PATH": _event_file(tmp_path, payload),
    }
    assert detect_ci(environ) == CiInfo(
        "github", "fork-feature", HEAD_SHA, GITHUB_RUN, 31, "lsst/pipelines_docs"
    )


def test_github_pull_request_event_without_head_ref_uses_the_payload(
    tmp_path: Path,
) -> None:
    """pull_request_review runs on the merge ref but GitHub sets no
    GITHUB_HEAD_REF for it."""
    payload = {"pull_request": {"number": 8, "head": {"ref": "docs-fix"}}}
    environ = {
        **GITHUB,
        "GITHUB_EVENT_NAME": "pull_request_review",
        "GITHUB_REF": "refs/pull/8/merge",
        "GITHUB_EVENT_PATH": _event_file(tmp_path, payload),
    }
    info = detect_ci(environ)
    assert info is not None
    assert (info.git_ref, info.pr_number) == ("docs-fix", 8)


def test_github_unreadable_event_file_is_not_fatal(tmp_path: Path) -> None:
    environ = {
        **GITHUB,
        "GITHUB_EVENT_NAME": "pull_request_target",
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_HEAD_REF": "feature",
        "GITHUB_EVENT_PATH": str(tmp_path / "missing.json"),
    }
    info = detect_ci(environ)
    assert info is not None
    # Without the payload the number is unknown; the branch still is.
    assert (info.git_ref, info.pr_number, info.commit) == ("feature", None, SHA)


def test_annotations_leave_out_what_is_unknown() -> None:
    full = CiInfo("github", "x", SHA, GITHUB_RUN, 42, "lsst/pipelines_docs")
    assert full.annotations() == {
        "provider": "github",
        "commit": SHA,
        "run_url": GITHUB_RUN,
        "pr_number": 42,
        "repository": "lsst/pipelines_docs",
    }
    sparse = CiInfo("jenkins", None, None, "https://ci.example.org/job/docs/1/")
    assert sparse.annotations() == {
        "provider": "jenkins",
        "run_url": "https://ci.example.org/job/docs/1/",
    }
    # What keeper stores must survive a JSON round trip unchanged.
    assert json.loads(json.dumps(full.annotations())) == full.annotations()


@pytest.mark.parametrize(
    ("value", "skip"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        (" Yes ", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("", False),
        (None, False),
    ],
)
def test_skip_requested(value: str | None, skip: bool) -> None:
    environ = {} if value is None else {"LTD_SKIP_UPLOAD": value}
    assert skip_requested(environ) is skip
