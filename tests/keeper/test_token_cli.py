"""``keeper token list`` and ``keeper token revoke``: the operator's way to
find and stop any token, superadmin tokens included (no org lists them)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.keeper.test_served import serve
from tests.served import keeper_binary


def keeper(
    env: dict[str, str], cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [keeper_binary(), *args], env=env, capture_output=True, text=True, cwd=cwd
    )


def test_a_leaked_superadmin_token_is_listed_and_revoked(tmp_path: Path) -> None:
    env = {**os.environ, "KEEPER_DATABASE_URL": f"sqlite:///{tmp_path / 'k.sqlite3'}"}
    made = keeper(
        env, tmp_path, "token", "create", "--role", "superadmin", "--name", "ops"
    )
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()

    listed = keeper(env, tmp_path, "token", "list")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    (row,) = [r for r in rows if r[3] == "ops"]
    token_id, role, org, _, hint = row[:5]
    assert (role, org, hint) == ("superadmin", "-", secret[:8])
    assert secret not in listed.stdout

    revoked = keeper(env, tmp_path, "token", "revoke", token_id)
    assert revoked.returncode == 0, revoked.stderr
    assert "ops" not in keeper(env, tmp_path, "token", "list").stdout
    again = keeper(env, tmp_path, "token", "revoke", token_id)
    assert again.returncode != 0 and f"no token {token_id}" in again.stderr

    for client in serve(
        tmp_path / "srv", {"KEEPER_DATABASE_URL": env["KEEPER_DATABASE_URL"]}
    ):
        r = client.post(
            "/api/orgs",
            headers={"Authorization": f"Bearer {secret}"},
            json={"slug": "made", "title": "Made"},
        )
        assert r.status_code == 401, r.text
