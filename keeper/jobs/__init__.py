"""Background work: what must follow a committed change.

A change names the jobs it needs (:mod:`keeper.jobs.follow`) in its own
transaction; a runner (:mod:`keeper.jobs.runner`) takes them from the
``job`` table after the commit, retries them with backoff and records how
they ended. Jobs read the state they act on when they run, so a job that
runs late, twice or after a newer change still leaves the newest state.
"""
