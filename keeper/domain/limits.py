"""Every size and count keeper accepts, in one place.

Each limit is set from real documentation sites with room to spare; the
README's "Limits and security" section lists them with their reasons.
Requests beyond a limit are refused with 413 (bodies) or 422 (fields),
naming the limit, before keeper does any work for them.

Reference points, largest first:

- GitLab Pages caps a site at 200,000 files; Cloudflare Pages at 100,000
  (paid) or 20,000 (free).
- The largest documentation site found, Analog Devices' no-OS Doxygen
  reference, has 63,369 files in about 1 GB (analogdevicesinc/no-OS#3039).
- Linux file systems take names of up to 255 bytes and S3 keys of up to
  1,024 bytes, of which keeper's own prefix (org, product,
  ``builds/<id>/``) takes up to 160.
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

# -- request bodies (413) ------------------------------------------------------

#: Any JSON request body, unless its route says otherwise.
DEFAULT_BODY_BYTES = 1 * MIB
#: A build registration: the manifest of the largest site allowed below,
#: at about 240 bytes an entry with its MD5.
MANIFEST_BODY_BYTES = 32 * MIB
#: A product with the most redirect rules allowed, each at its longest.
PRODUCT_BODY_BYTES = 4 * MIB
#: One uploaded file: S3's largest single PUT.
MAX_FILE_BYTES = 5 * GIB
#: A form upload: one file plus its form fields.
FORM_BODY_BYTES = MAX_FILE_BYTES + 64 * KIB

# -- manifests (422) -----------------------------------------------------------

#: Files in one build: 1.5 times the largest documentation site found.
MAX_MANIFEST_FILES = 100_000
#: All files of one build together.
MAX_BUILD_BYTES = 50 * GIB
#: A file's path within its build, in UTF-8 bytes.
MAX_PATH_BYTES = 768
#: One segment (folder or file name) of such a path, in UTF-8 bytes: what
#: Linux file systems hold.
MAX_SEGMENT_BYTES = 255
#: Folders a path may nest.
MAX_PATH_DEPTH = 32

# -- readers' requests at the edge (400, 414) ---------------------------------
#
# Every edge (the built-in one, nginx, Varnish, Fastly) answers these the
# same way; nginx and Varnish refuse larger requests themselves before any
# configuration runs, so these numbers sit at or below theirs.

#: A request target (path and query, as sent): 414 above it. A file path
#: takes at most MAX_PATH_BYTES (768), three times that percent-encoded,
#: plus ``/v/<edition>/`` and a query of search terms or tracking
#: parameters. Varnish's VCL keeps several copies of the path in a
#: workspace of 64 KiB by default, which this bounds; nginx refuses request
#: lines over 8 KiB itself.
MAX_EDGE_TARGET_BYTES = 4 * KIB
#: One header field (name and value): 400 above it, as nginx
#: (``large_client_header_buffers``) and Varnish (``http_req_hdr_len``)
#: answer by default.
MAX_EDGE_HEADER_BYTES = 8 * KIB
#: All header fields of a request together: nginx and Varnish
#: (``http_req_size``) stop at 32 KiB.
MAX_EDGE_HEADERS_BYTES = 32 * KIB
#: A whole request head (request line and headers) as keeper's server reads
#: it, for the API as for the sites: room for the edge's largest target and
#: headers, and the bound on what one connection can make keeper hold
#: before a request even starts (431 above it).
MAX_REQUEST_HEAD_BYTES = 2 * (MAX_EDGE_TARGET_BYTES + MAX_EDGE_HEADERS_BYTES)
#: A Host name, as DNS has them (RFC 1035); a longer Host is refused (400).
MAX_HOST_BYTES = 253
#: A byte position in a ``Range`` header: larger ones fit no file and are
#: unsatisfiable (416), as nginx and Varnish answer.
MAX_RANGE_POSITION = 2**63 - 1

# -- free-form fields (422) ----------------------------------------------------

#: A build's ``ci`` annotations, as compact JSON.
MAX_CI_BYTES = 8 * KIB
#: Refs of one build (``git_refs``, the legacy list form).
MAX_GIT_REFS = 20
#: An edition's ``tracking_params``, as compact JSON.
MAX_TRACKING_PARAMS_BYTES = 4 * KIB
#: An org's ``cdn_settings`` or an edge's settings, as compact JSON.
MAX_SETTINGS_BYTES = 16 * KIB
#: Nesting of any free-form JSON value.
MAX_JSON_DEPTH = 8

# -- numbers and lists (422) ---------------------------------------------------

#: Ids and cursors the API takes (``?after=``, token ids): the tables' ids
#: are 32-bit integers (PostgreSQL's ``integer``), and a larger value would
#: reach the database only to fail there.
MAX_ID = 2**31 - 1
#: Validation errors named in one 422; the rest are counted.
MAX_REPORTED_ERRORS = 20

# -- org templates (keeper.pages.budget) -------------------------------------
#
# An org's own templates render in a worker process with these budgets; a
# template over any of them is refused (422) when it is set and replaced by
# keeper's own at publish. Keeper's own templates render the largest product
# we plan for (1,000 editions, 500 builds: 0.4 MB of HTML) in about 0.13 s of
# CPU, and a page of an org that overrides a template costs about 1 ms more
# (see tests/pages/test_budget.py).

#: CPU seconds one page may take: fifteen times what keeper's own templates
#: need for the largest product, and the most a publish waits on a template
#: that loops. Whole seconds, as the kernel counts them (RLIMIT_CPU).
TEMPLATE_CPU_SECONDS = 2
#: Seconds one page may take by the clock, worker start included: above the
#: CPU budget so that a busy machine does not refuse a template that is fine.
TEMPLATE_WALL_SECONDS = 5.0
#: Address space of a render worker. Python with Jinja takes about 26 MiB
#: and the largest product's listing and pages a few more; 512 MiB is ample,
#: and ``'%0999999999d' % 1`` (a 1 GB string) fails at once.
TEMPLATE_MEMORY_BYTES = 512 * MIB
#: One rendered page: forty times the largest product's dashboard.
TEMPLATE_PAGE_BYTES = 16 * MIB
#: Render workers per keeper process: pages are rendered by whichever
#: request or job committed, rarely more than two at once on one process.
TEMPLATE_WORKERS = 2
#: Products on which one set of org templates may exceed its budget before
#: keeper stops trying that set on the org's other products; a product on
#: which it did is not tried again either. Without this, every publish and
#: every change to an org with many products would wait out the budget
#: once for each of them.
TEMPLATE_STRIKES = 3
#: How long such a verdict holds (changing a template ends it at once): a
#: template refused on a busy machine gets another chance.
TEMPLATE_STRIKE_SECONDS = 3600

# -- shutdown ------------------------------------------------------------------

#: Seconds ``keeper serve`` lets requests in flight finish after SIGTERM
#: before it cuts them off: container platforms send SIGKILL 10 s (Docker) to
#: 30 s (Kubernetes) after SIGTERM, and a reader's page takes milliseconds.
SHUTDOWN_SECONDS = 3
#: Seconds after that when the process ends even if something (a thread, a
#: hung lifespan) still holds it.
SHUTDOWN_MARGIN_SECONDS = 2

# -- tokens (422) --------------------------------------------------------------

#: The furthest a token's expiry may lie ahead, in days: ten years. A date
#: beyond that is far likelier a typo (2205 for 2025) than a plan, and a
#: token meant never to expire says so by leaving ``expires`` out (it can
#: still be revoked).
MAX_TOKEN_DAYS = 3653
