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

#: Database ids and cursors are signed 64-bit integers.
MAX_ID = 2**63 - 1
#: Validation errors named in one 422; the rest are counted.
MAX_REPORTED_ERRORS = 20

# -- tokens (422) --------------------------------------------------------------

#: The furthest a token's expiry may lie ahead, in days: ten years. A date
#: beyond that is far likelier a typo (2205 for 2025) than a plan, and a
#: token meant never to expire says so by leaving ``expires`` out (it can
#: still be revoked).
MAX_TOKEN_DAYS = 3653
