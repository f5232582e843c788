"""Which CI service is running us, and what it is building.

``ltd upload`` uses this to default ``--git-ref`` and to attach the CI run to
the build (keeper's ``ci`` field), so a reader of the builds dashboard can
find the job that produced a build. Each service names the same facts
differently, and each has a case where the obvious variable is wrong (a
pull request's ``GITHUB_REF`` is ``refs/pull/N/merge``, Travis's
``TRAVIS_BRANCH`` is the PR's *target*); the readers below encode those.

When the ref cannot be told (a detached checkout, a Jenkins job without a
branch), ``git_ref`` is ``None`` and the caller should ask for ``--git-ref``
rather than guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_TRUE = frozenset({"true", "1", "yes"})
_PULL_REF = re.compile(r"^refs/pull/(\d+)/(?:merge|head)$")
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


@dataclass(frozen=True)
class CiInfo:
    provider: str  # github, gitlab, jenkins, travis
    git_ref: str | None  # branch or tag name, never refs/heads/…
    commit: str | None
    run_url: str | None
    pr_number: int | None = None
    repository: str | None = None  # owner/name, or GitLab's group/project path

    def annotations(self) -> dict[str, object]:
        """The build's ``ci`` field as sent to keeper; unknown facts left out."""
        fields: dict[str, object | None] = {
            "provider": self.provider,
            "commit": self.commit,
            "run_url": self.run_url,
            "pr_number": self.pr_number,
            "repository": self.repository,
        }
        return {key: value for key, value in fields.items() if value is not None}


def skip_requested(environ: Mapping[str, str]) -> bool:
    """Whether ``LTD_SKIP_UPLOAD`` asks to skip publishing (true/1/yes)."""
    return environ.get("LTD_SKIP_UPLOAD", "").strip().lower() in _TRUE


def detect_ci(environ: Mapping[str, str]) -> CiInfo | None:
    """Describe the CI run ``environ`` comes from, or ``None`` outside CI."""
    for detect in _DETECTORS:
        info = detect(environ)
        if info is not None:
            return info
    return None


def _get(environ: Mapping[str, str], name: str) -> str | None:
    """A variable's value, with empty treated as unset: Travis, for one,
    exports ``TRAVIS_TAG=""`` on every build that is not a tag."""
    value = environ.get(name, "").strip()
    return value or None


def _int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


# -- GitHub Actions -------------------------------------------------------

_GITHUB_PR_EVENTS = frozenset({"pull_request", "pull_request_target"})


def _github(environ: Mapping[str, str]) -> CiInfo | None:
    if _get(environ, "GITHUB_ACTIONS") != "true":
        return None
    event = _get(environ, "GITHUB_EVENT_NAME")
    ref = _get(environ, "GITHUB_REF")
    commit = _get(environ, "GITHUB_SHA")
    repository = _get(environ, "GITHUB_REPOSITORY")
    pull = _PULL_REF.match(ref or "")

    pr_number: int | None = None
    if event in _GITHUB_PR_EVENTS or pull or _get(environ, "GITHUB_HEAD_REF"):
        # GITHUB_REF is the merge ref for pull_request but the *base* branch
        # for pull_request_target, so the number may only be in the payload.
        payload = _github_event(environ)
        pr = _dict(payload.get("pull_request"))
        head = _dict(pr.get("head"))
        pr_number = (
            int(pull.group(1))
            if pull
            else _int(pr.get("number") or payload.get("number"))
        )
        git_ref = _get(environ, "GITHUB_HEAD_REF") or _str(head.get("ref"))
        if event == "pull_request_target":
            # GITHUB_SHA is the base branch's tip there; the docs built for
            # a preview are the head's.
            commit = _str(head.get("sha")) or commit
    else:
        git_ref = _short_ref(ref)
        if git_ref is None and _get(environ, "GITHUB_REF_TYPE") in ("branch", "tag"):
            git_ref = _get(environ, "GITHUB_REF_NAME")

    server = (_get(environ, "GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
    run_id = _get(environ, "GITHUB_RUN_ID")
    run_url = (
        f"{server}/{repository}/actions/runs/{run_id}"
        if repository and run_id
        else None
    )
    return CiInfo("github", git_ref, commit, run_url, pr_number, repository)


def _github_event(environ: Mapping[str, str]) -> dict[str, Any]:
    """The webhook payload GitHub writes for the run; ``{}`` if unreadable,
    since it only refines what the variables already say."""
    path = _get(environ, "GITHUB_EVENT_PATH")
    if path is None:
        return {}
    try:
        with open(path, encoding="utf-8") as stream:
            payload = json.load(stream)
    except (OSError, ValueError):
        return {}
    return payload if isinstance(payload, dict) else {}


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _short_ref(ref: str | None) -> str | None:
    """``refs/heads/x`` → ``x``, ``refs/tags/v1`` → ``v1``, anything else
    (a pull or merge-queue ref, a bare sha) → ``None``."""
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref and ref.startswith(prefix) and len(ref) > len(prefix):
            return ref[len(prefix) :]
    return None


# -- GitLab CI ------------------------------------------------------------


def _gitlab(environ: Mapping[str, str]) -> CiInfo | None:
    if _get(environ, "GITLAB_CI") != "true":
        return None
    pr_number: int | None = None
    tag = _get(environ, "CI_COMMIT_TAG")
    mr_iid = _get(environ, "CI_MERGE_REQUEST_IID")
    if tag:
        git_ref: str | None = tag
    elif mr_iid:
        # Merge request pipelines (detached or merged-results) have no
        # CI_COMMIT_BRANCH; the source branch is what the MR previews.
        git_ref = _get(environ, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME")
        pr_number = _int(mr_iid)
    else:
        git_ref = _get(environ, "CI_COMMIT_BRANCH")
    return CiInfo(
        "gitlab",
        git_ref,
        _get(environ, "CI_COMMIT_SHA"),
        _get(environ, "CI_PIPELINE_URL") or _get(environ, "CI_JOB_URL"),
        pr_number,
        _get(environ, "CI_PROJECT_PATH"),
    )


# -- Jenkins --------------------------------------------------------------

_JENKINS_PREFIXES = (
    "refs/heads/",
    "refs/remotes/origin/",
    "remotes/origin/",
    "origin/",
)


def _jenkins(environ: Mapping[str, str]) -> CiInfo | None:
    if not (_get(environ, "JENKINS_URL") or _get(environ, "HUDSON_URL")):
        return None
    pr_number: int | None = None
    tag = _get(environ, "TAG_NAME")
    change = _get(environ, "CHANGE_ID")
    if tag:
        git_ref: str | None = tag
    elif change:
        # Multibranch PR jobs have BRANCH_NAME=PR-12; CHANGE_BRANCH is the
        # real source branch. Gerrit change ids are not numbers: keep none.
        git_ref = _get(environ, "CHANGE_BRANCH")
        pr_number = _int(change)
    else:
        git_ref = _get(environ, "BRANCH_NAME") or _jenkins_branch(
            _get(environ, "GIT_BRANCH")
        )
    return CiInfo(
        "jenkins",
        git_ref,
        _get(environ, "GIT_COMMIT"),
        _get(environ, "BUILD_URL"),
        pr_number,
        _repository_from_url(_get(environ, "GIT_URL")),
    )


def _jenkins_branch(value: str | None) -> str | None:
    """The git plugin's ``GIT_BRANCH`` is ``origin/main``; a job that checks
    out a commit gets ``detached`` or the sha itself, which is no ref."""
    if value is None:
        return None
    if value.startswith("refs/tags/"):
        return value[len("refs/tags/") :] or None
    for prefix in _JENKINS_PREFIXES:
        if value.startswith(prefix):
            value = value[len(prefix) :]
            break
    if not value or value in ("HEAD", "detached") or _SHA.match(value):
        return None
    return value


def _repository_from_url(url: str | None) -> str | None:
    """``owner/name`` from ``https://host/owner/name.git`` or
    ``git@host:owner/name.git``."""
    if url is None:
        return None
    match = re.match(r"^(?:[a-z+]+://[^/]+/|[^@/]+@[^:/]+:)(.+?)(?:\.git)?/?$", url)
    return match.group(1) if match else None


# -- Travis CI ------------------------------------------------------------


def _travis(environ: Mapping[str, str]) -> CiInfo | None:
    if _get(environ, "TRAVIS") != "true":
        return None
    pr_number: int | None = None
    tag = _get(environ, "TRAVIS_TAG")
    pull = _int(_get(environ, "TRAVIS_PULL_REQUEST"))  # a number, or "false"
    if tag:
        git_ref: str | None = tag
    elif pull is not None:
        # TRAVIS_BRANCH is the PR's target branch, not what was built.
        git_ref = _get(environ, "TRAVIS_PULL_REQUEST_BRANCH")
        pr_number = pull
    else:
        git_ref = _get(environ, "TRAVIS_BRANCH")
    return CiInfo(
        "travis",
        git_ref,
        _get(environ, "TRAVIS_COMMIT"),
        _get(environ, "TRAVIS_BUILD_WEB_URL") or _get(environ, "TRAVIS_JOB_WEB_URL"),
        pr_number,
        _get(environ, "TRAVIS_REPO_SLUG"),
    )


_DETECTORS: tuple[Callable[[Mapping[str, str]], CiInfo | None], ...] = (
    _github,
    _gitlab,
    _jenkins,
    _travis,
)

__all__ = ["CiInfo", "detect_ci", "skip_requested"]
