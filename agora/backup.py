"""`agora backup FILE` and `agora restore FILE`: the whole instance in one archive, and back.

The archive (a .tar.gz) holds `manifest.json`, the configuration file, the database — a SQLite
copy made with SQLite's online backup API, or a `pg_dump` script for PostgreSQL, both consistent
while the server keeps running — and `files/` (every document version and avatar; thumbnails and
temporary uploads are made again, the search index is rebuilt). The database is copied first and
the files after: every file a copied row points at was on disk before that row was committed.
Restoring needs an empty instance: no database tables, no files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path

from flask import current_app
from sqlalchemy import inspect

from agora.config import CONFIG_FILE_NAMES
from agora.core.time import utcnow
from agora.extensions import db

FORMAT = 1
SKIPPED = ("tmp", "thumbs")


class BackupError(Exception):
    """A backup or a restore that cannot be done; the message says why."""


def _pg_url(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _instance() -> Path:
    return Path(current_app.instance_path)


def _backed_up_files(root: Path):
    """(path, name in the archive) of every file worth keeping under files/."""
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and not any(part in SKIPPED for part in relative.parts):
            yield path, f"files/{relative.as_posix()}"


def backup(target: Path) -> dict:
    """Write the archive to `target` (through a temporary file, renamed when complete); return its manifest."""
    url = db.engine.url
    target = target.resolve()
    work = Path(tempfile.mkdtemp(prefix="agora-backup-"))
    try:
        if url.get_backend_name() == "sqlite":
            database = work / "database.sqlite"
            source = sqlite3.connect(url.database)
            copy = sqlite3.connect(database)
            with copy:
                source.backup(copy)
            source.close()
            copy.close()
        elif url.get_backend_name() == "postgresql":
            database = work / "database.sql"
            done = subprocess.run(
                ["pg_dump", "--no-owner", "--no-privileges", "--file", str(database), _pg_url(url)],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
        else:
            raise BackupError(f"cannot back up a {url.get_backend_name()} database")
        files, digests = list(_backed_up_files(_instance() / "files")), {}
        manifest = {
            "format": FORMAT,
            "created_at": utcnow().isoformat(),
            "database": database.name,
            "files": len(files),
        }
        partial = target.with_name(target.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(database, arcname=database.name)
            config = next((_instance() / n for n in CONFIG_FILE_NAMES if (_instance() / n).is_file()), None)
            if config is not None:
                archive.add(config, arcname=config.name)
            for path, name in files:
                try:
                    with path.open("rb") as handle:
                        digests[name] = hashlib.sha256(handle.read()).hexdigest()
                    archive.add(path, arcname=name)
                except FileNotFoundError:  # removed after its row's deletion was committed: not needed
                    continue
            manifest["sha256"] = digests
            data = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        os.replace(partial, target)
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def take_config(source: Path, instance: Path) -> bool:
    """Put the archive's configuration file into an instance that has none (before the app starts:
    it needs the secret key). Returns True when it did."""
    if any((instance / n).is_file() for n in CONFIG_FILE_NAMES):
        return False
    try:
        with tarfile.open(source, "r:gz") as archive:
            for name in CONFIG_FILE_NAMES:
                try:
                    member = archive.getmember(name)
                except KeyError:
                    continue
                if not member.isfile():
                    continue
                instance.mkdir(parents=True, exist_ok=True)
                (instance / name).write_bytes(archive.extractfile(member).read())
                (instance / name).chmod(0o600)
                return True
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"not an Agora backup: {exc}") from None
    return False


def _safe_members(archive: tarfile.TarFile):
    for member in archive.getmembers():
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
            raise BackupError(f"unexpected entry in the archive: {member.name}")
        yield member


def restore(source: Path) -> dict:
    """Restore an archive into this (empty) instance; return its manifest."""
    instance = _instance()
    if inspect(db.engine).get_table_names():
        raise BackupError("the database is not empty: restore into a new instance (a new folder and database)")
    files_dir = instance / "files"
    if files_dir.exists() and any(p.is_file() for p in files_dir.rglob("*")):
        raise BackupError(f"{files_dir} already holds files: restore into a new instance")
    try:
        archive = tarfile.open(source, "r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"not an Agora backup: {exc}") from None
    with archive, tempfile.TemporaryDirectory(prefix="agora-restore-") as work:
        archive.extractall(work, members=list(_safe_members(archive)), filter="data")
        work = Path(work)
        if not (work / "manifest.json").is_file():
            raise BackupError("not an Agora backup: no manifest.json")
        manifest = json.loads((work / "manifest.json").read_text())
        url = db.engine.url
        if manifest["database"] == "database.sqlite":
            if url.get_backend_name() != "sqlite":
                raise BackupError("this backup holds a SQLite database: restore it into an instance using SQLite")
            db.engine.dispose()
            shutil.copyfile(work / "database.sqlite", url.database)
        else:
            if url.get_backend_name() != "postgresql":
                raise BackupError("this backup holds a PostgreSQL dump: restore it into an instance using PostgreSQL")
            done = subprocess.run(
                ["psql", "--quiet", "--set", "ON_ERROR_STOP=1", "--file", str(work / "database.sql"), _pg_url(url)],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise BackupError(f"psql failed: {done.stderr.strip()}")
        for name in CONFIG_FILE_NAMES:
            if (work / name).is_file() and not (instance / name).exists():
                shutil.copyfile(work / name, instance / name)
                (instance / name).chmod(0o600)
        if (work / "files").is_dir():
            shutil.copytree(work / "files", files_dir, dirs_exist_ok=True)
        for name, digest in manifest.get("sha256", {}).items():
            with (instance / name).open("rb") as handle:
                if hashlib.sha256(handle.read()).hexdigest() != digest:
                    raise BackupError(f"{name} does not match its checksum")
    db.engine.dispose()
    from agora.search.indexing import reindex

    manifest["indexed"] = reindex()
    return manifest
