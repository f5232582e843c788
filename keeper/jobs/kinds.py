"""The kinds of job there are (their code: :mod:`keeper.jobs.handlers`, and
:mod:`keeper.services.builds.verification` for verify_build)."""

from enum import StrEnum


class JobKind(StrEnum):
    #: Copy a confirmed build's uploads into its prefix, verify every
    #: object, complete it and re-point editions by rule.
    verify_build = "verify_build"
    #: Render a product's pages (``/v/``, switchers, builds) into its store.
    render_pages = "render_pages"
    #: Rewrite and reload one recorded edge (nginx, Varnish: files and a
    #: reload; Fastly: its service through the API) and purge the changed
    #: products there; one job per edge.
    update_edges = "update_edges"
    #: Delete a prefix of an org's store (a deleted build's or product's
    #: objects), once the rows that pointed at it are gone.
    delete_objects = "delete_objects"
    #: Expire a product's abandoned builds and delete the objects no build
    #: references, after their grace period (keeper.services.gc).
    collect_garbage = "collect_garbage"
    #: Write an org's complete builds as plain files for an edge that
    #: reads prefixes, recorded after they were published.
    materialize_builds = "materialize_builds"
    #: Hash and place files of a build still being uploaded, that its
    #: client said it sent (keeper.services.builds.early).
    place_uploads = "place_uploads"


VERIFY_BUILD = JobKind.verify_build
DELETE_OBJECTS = JobKind.delete_objects
COLLECT_GARBAGE = JobKind.collect_garbage
MATERIALIZE_BUILDS = JobKind.materialize_builds
PLACE_UPLOADS = JobKind.place_uploads
RENDER_PAGES = JobKind.render_pages
UPDATE_EDGES = JobKind.update_edges
