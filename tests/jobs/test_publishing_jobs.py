"""Publishing as jobs in a running keeper: what one upload queues, how a
burst of changes coalesces, and a failing edge seen and retried through
the API."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlmodel import Session

from keeper.db import JobStatus
from keeper.edge.configs import render_edge
from keeper.jobs.kinds import (
    COLLECT_GARBAGE,
    RENDER_PAGES,
    UPDATE_EDGES,
    VERIFY_BUILD,
)
from keeper.services.lookup import get_org
from tests.conftest import Keeper
from tests.jobs.conftest import all_jobs, engine, runner
from tests.publishing import publish, register, site, upload

BASE = "/api/orgs/lsst/products/pipelines"
JOBS = "/api/orgs/lsst/jobs"


def record_edge(k: Keeper, out_dir: Path) -> None:
    with Session(engine(k)) as session:
        render_edge(
            session,
            runner(k).runtime,
            get_org(session, "lsst"),
            target_name="nginx",
            listen="127.0.0.1:8080",
            out_dir=out_dir,
            settings={},
        )


def test_registering_renders_nothing_and_confirming_renders_once(k: Keeper) -> None:
    before = len(all_jobs(k))
    files = site("one")
    build = register(k.client, BASE, k.auth(), files)
    upload(k.client, build, files)
    # No reader sees a pending build: nothing is rendered. Only its expiry
    # waits, should it be abandoned.
    queued = all_jobs(k)[before:]
    assert [(j.kind, j.status) for j in queued] == [(COLLECT_GARBAGE, JobStatus.queued)]
    before = len(all_jobs(k))
    r = k.client.patch(
        f"{BASE}/builds/{build['id']}", headers=k.auth(), json={"status": "uploaded"}
    )
    assert r.status_code == 202, r.text
    new = all_jobs(k)[before:]
    assert [(j.kind, j.status) for j in new] == [
        (VERIFY_BUILD, JobStatus.done),
        (RENDER_PAGES, JobStatus.done),
    ]


def test_one_upload_updates_each_edge_once(k: Keeper, tmp_path: Path) -> None:
    record_edge(k, tmp_path / "nginx")
    sites = tmp_path / "nginx" / "sites.conf"
    before = len(all_jobs(k))
    build = publish(k.client, BASE, k.auth(), site("one"))
    ran = [j for j in all_jobs(k)[before:] if j.kind != COLLECT_GARBAGE]
    assert sorted(j.kind for j in ran) == sorted(
        [VERIFY_BUILD, RENDER_PAGES, UPDATE_EDGES]
    )
    assert all(j.status == JobStatus.done for j in ran)
    # __main now names the build on the edge.
    assert build["id"] in sites.read_text()


def test_a_burst_of_changes_renders_the_product_once(k: Keeper) -> None:
    publish(k.client, BASE, k.auth(), site("one"))
    runner(k).stop()  # as if the runner were busy elsewhere
    before = len(all_jobs(k))
    for n in range(10):
        r = k.client.patch(
            f"{BASE}/editions/__main", headers=k.auth(), json={"title": f"Latest {n}"}
        )
        assert r.status_code == 200, r.text
    waiting = all_jobs(k)[before:]
    assert [(j.kind, j.status) for j in waiting] == [(RENDER_PAGES, JobStatus.queued)]
    assert runner(k).run_until_idle() == 1
    # The one render saw the last state.
    r = k.client.get("/v/", headers={"Host": "pipelines.lsst.io"})
    assert r.status_code == 200 and "Latest 9" in r.text, r.text


def test_a_failing_edge_is_retried_then_shown_failed_and_retried_by_hand(
    k: Keeper, tmp_path: Path
) -> None:
    out = tmp_path / "nginx"
    record_edge(k, out)
    # Before the edge, nothing was queued for edges (the org had none).
    assert not [j for j in all_jobs(k) if j.kind == UPDATE_EDGES]
    # The edge's folder becomes a file: every attempt to write it fails.
    shutil.rmtree(out)
    out.write_text("not a folder")
    publish(k.client, BASE, k.auth(), site("one"))
    (job,) = [j for j in all_jobs(k) if j.kind == UPDATE_EDGES]
    assert (job.status, job.attempts) == (JobStatus.failed, 2)

    r = k.client.get(JOBS, headers=k.auth(), params={"status": "failed"})
    assert r.status_code == 200, r.text
    (listed,) = r.json()
    assert listed["id"] == job.id and listed["kind"] == UPDATE_EDGES
    assert str(out) in listed["error"] and listed["finished"] is not None
    r = k.client.get(f"{JOBS}/{job.id}", headers=k.auth())
    assert r.status_code == 200 and r.json() == listed

    out.unlink()
    r = k.client.post(f"{JOBS}/{job.id}/retry", headers=k.auth())
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "queued"
    r = k.client.get(f"{JOBS}/{job.id}", headers=k.auth())
    assert (r.json()["status"], r.json()["error"]) == ("done", None)
    assert any(out.iterdir())
    again = k.client.post(f"{JOBS}/{job.id}/retry", headers=k.auth())
    assert again.status_code == 409, again.text


def test_jobs_are_listed_by_product_kind_and_status_newest_first(k: Keeper) -> None:
    publish(k.client, BASE, k.auth(), site("one"))
    r = k.client.post(
        "/api/orgs/lsst/products",
        headers=k.auth(),
        json={"slug": "other", "title": "O"},
    )
    assert r.status_code == 201, r.text
    r = k.client.get(JOBS, headers=k.auth(), params={"product": "pipelines"})
    listed = r.json()
    assert listed and {j["product"] for j in listed} == {"pipelines"}
    ids = [j["id"] for j in k.client.get(JOBS, headers=k.auth()).json()]
    assert ids == sorted(ids, reverse=True)
    r = k.client.get(JOBS, headers=k.auth(), params={"kind": UPDATE_EDGES})
    assert r.json() == []
    r = k.client.get(JOBS, headers=k.auth(), params={"status": "nonsense"})
    assert r.status_code == 422
    r = k.client.get(JOBS, headers=k.auth(), params={"product": "nope"})
    assert r.status_code == 404


def test_another_orgs_job_is_not_found(k: Keeper) -> None:
    publish(k.client, BASE, k.auth(), site("one"))
    r = k.client.post("/api/orgs", headers=k.auth(), json={"slug": "b", "title": "B"})
    assert r.status_code == 201, r.text
    (job, *_) = all_jobs(k)
    assert k.client.get(f"{JOBS}/{job.id}", headers=k.auth()).status_code == 200
    r = k.client.get(f"/api/orgs/b/jobs/{job.id}", headers=k.auth())
    assert r.status_code == 404, r.text
    assert k.client.get("/api/orgs/b/jobs", headers=k.auth()).json() == []


def edition(k: Keeper, slug: str = "__main") -> dict[str, object]:
    r = k.client.get(f"{BASE}/editions/{slug}")
    assert r.status_code == 200, r.text
    found: dict[str, object] = r.json()
    return found


def test_an_edition_is_published_once_its_pages_and_edges_show_it(
    k: Keeper, tmp_path: Path
) -> None:
    record_edge(k, tmp_path / "nginx")
    runner(k).stop()  # to see the edition before the jobs run
    files = site("one")
    build = register(k.client, BASE, k.auth(), files)
    upload(k.client, build, files)
    r = k.client.patch(
        f"{BASE}/builds/{build['id']}", headers=k.auth(), json={"status": "uploaded"}
    )
    assert r.status_code == 202, r.text
    assert edition(k)["build_id"] is None  # until the build is verified
    assert runner(k).run_one()  # the verification
    main = edition(k)
    assert (main["build_id"], main["publish_status"]) == (build["id"], "pending")
    assert main["published_at"] is None

    # The pages alone are not enough while the org has an edge.
    assert runner(k).run_one()  # the oldest due job: the pages
    assert [j.status for j in all_jobs(k) if j.kind == RENDER_PAGES][-1] == "done"
    assert edition(k)["publish_status"] == "pending"
    runner(k).run_until_idle()
    main = edition(k)
    assert main["publish_status"] == "published", main
    assert main["published_at"] is not None and main["publish_error"] is None


def test_an_edition_whose_edge_gives_up_is_failed_until_a_retry_works(
    k: Keeper, tmp_path: Path
) -> None:
    out = tmp_path / "nginx"
    record_edge(k, out)
    shutil.rmtree(out)
    out.write_text("not a folder")
    publish(k.client, BASE, k.auth(), site("one"))
    main = edition(k)
    assert main["publish_status"] == "failed"
    assert "update_edges" in str(main["publish_error"])
    assert str(out) in str(main["publish_error"])

    out.unlink()
    (job,) = [j for j in all_jobs(k) if j.kind == UPDATE_EDGES]
    r = k.client.post(f"{JOBS}/{job.id}/retry", headers=k.auth())
    assert r.status_code == 200, r.text
    main = edition(k)
    assert (main["publish_status"], main["publish_error"]) == ("published", None)


def test_an_org_without_edges_is_published_by_its_pages(k: Keeper) -> None:
    publish(k.client, BASE, k.auth(), site("one"))
    assert edition(k)["publish_status"] == "published"
    # A title is no new build: the status stays.
    r = k.client.patch(
        f"{BASE}/editions/__main", headers=k.auth(), json={"title": "Newest"}
    )
    assert r.status_code == 200 and r.json()["publish_status"] == "published"
