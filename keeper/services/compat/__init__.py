"""LTD Keeper 1.x compatibility: the routes released ``ltd-conveyor`` 0.8
uses, mapped onto keeper's own builds, confirmation and tracking.

- ``org``: which organization those org-less routes act on;
- ``sessions``: ``GET /token`` sessions, and who is calling;
- ``register``: a pending build plus a form-upload target per folder;
- ``manifest``: the manifest, read back from what landed in storage;
- ``confirm``: manifest, then keeper's normal confirmation;
- ``probe``: whether an S3 server really takes presigned POSTs.
"""
