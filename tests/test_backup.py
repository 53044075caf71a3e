"""agora backup / agora restore: a restored instance holds the same rows and byte-identical files."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from tests.conftest import TEST_DATABASE_URL

AGORA = str(Path(sys.executable).with_name("agora"))
#: SQLite always; PostgreSQL too when the suite runs on it (scratch databases beside the test one).
BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL.startswith("postgresql") else [])


def _scratch_pg(name: str) -> str:
    server = TEST_DATABASE_URL.rsplit("/", 1)[0]
    engine = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{server}/{name}"


def _env(instance: Path, backend: str, name: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env["AGORA_INSTANCE"] = str(instance)
    if backend == "postgresql":
        env["AGORA_DATABASE_URL"] = _scratch_pg(name)
    return env


def _agora(env, *args, check=True):
    return subprocess.run([AGORA, *args], env=env, capture_output=True, text=True, check=check)


def _url(env, instance: Path) -> str:
    return env.get("AGORA_DATABASE_URL") or f"sqlite:///{instance / 'agora.db'}"


def _rows(url: str) -> dict:
    engine = create_engine(url)
    with engine.connect() as conn:
        tables = sorted(t for t in inspect(conn).get_table_names() if t != "alembic_version")
        found = {t: sorted(map(repr, conn.execute(text(f'SELECT * FROM "{t}"')).all())) for t in tables}
    engine.dispose()
    return found


def _files(instance: Path) -> dict:
    root = instance / "files"
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and "thumbs" not in p.parts
    }


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_restored_instance_holds_the_same_data_byte_for_byte(tmp_path, backend):
    first, second, archive = tmp_path / "premiere", tmp_path / "seconde", tmp_path / "sauvegarde.tar.gz"
    env1, env2 = _env(first, backend, "agora_backup_a"), _env(second, backend, "agora_backup_b")
    _agora(env1, "init")
    _agora(env1, "demo")
    done = _agora(env1, "backup", str(archive))
    assert "backup written" in done.stdout and archive.is_file()
    with tarfile.open(archive) as opened:
        names = opened.getnames()
    assert "manifest.json" in names and "agora.toml" in names and not any("/tmp/" in n for n in names)

    restored = _agora(env2, "restore", str(archive))
    assert "items indexed" in restored.stdout
    assert _rows(_url(env2, second)) == _rows(_url(env1, first))
    assert _files(second) == _files(first) and len(_files(first)) >= 13
    assert (second / "agora.toml").read_text() == (first / "agora.toml").read_text()
    assert "files and database agree" in _agora(env2, "documents", "check").stdout

    again = _agora(env2, "restore", str(archive), check=False)
    assert again.returncode == 1 and "not empty" in again.stderr


@pytest.mark.slow
def test_a_file_that_is_not_a_backup_is_refused(tmp_path):
    bogus = tmp_path / "faux.tar.gz"
    bogus.write_bytes(b"pas une archive")
    env = _env(tmp_path / "vide", "sqlite", "")
    refused = _agora(env, "restore", str(bogus), check=False)
    assert refused.returncode == 1 and "not an Agora backup" in refused.stderr
