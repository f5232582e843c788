"""LTD Keeper 1.x compatibility: the routes released ``ltd-conveyor`` 0.8
uses, mapped onto keeper's own builds, confirmation and tracking.

- ``org``: which organization those org-less routes act on;
- ``sessions``: ``GET /token`` sessions, and who is calling;
- ``register``: a pending build plus a form-upload target per folder, all
  into the build's staging folder;
- ``manifest``: the manifest: what landed, checked, copied into the build
  and hashed there;
- ``confirm``: manifest, then keeper's normal confirmation;
- ``probe``: whether an S3 server really takes presigned POSTs.
"""
