"""A real `agora serve` with demo data, and headless Chromium (Debian's) to drive it.

Run with `pytest browser_tests` after `apt-get install chromium`; .ci/run does both.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

AGORA = str(Path(sys.executable).with_name("agora"))
CHROMIUM = os.environ.get("AGORA_CHROMIUM", "/usr/bin/chromium")
READER, READER_PASSWORD = "lea.lectrice", "une lectrice du conseil"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 360, "height": 740}}
#: The served instance, once `server` made it: the walks read its database for their pages.
INSTANCE: dict[str, Path] = {}


def pytest_collection_modifyitems(items):
    """Every browser test starts a server and Chromium: all are `slow`."""
    for item in items:
        item.add_marker(pytest.mark.slow)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """Start Agora on a free port; yield (base URL, admin password); stop it with SIGTERM."""
    instance = tmp_path_factory.mktemp("instance")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env["AGORA_INSTANCE"] = str(instance)
    INSTANCE["path"] = instance
    init = subprocess.run([AGORA, "init"], env=env, check=True, capture_output=True, text=True)
    password = re.search(r"with password: (\S+)", init.stdout).group(1)
    subprocess.run([AGORA, "demo"], env=env, check=True, capture_output=True)
    # A habitant who follows the council as a reader (journey 6 votes as her).
    subprocess.run(
        [AGORA, "user", "create", READER, "--name", "Léa Lectrice", "--password", READER_PASSWORD],
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [AGORA, "space", "add-member", "conseil-tilleuls", READER, "--role", "reader"],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    env["AGORA_BASE_URL"] = f"http://127.0.0.1:{port}"  # links to copy are built from the public address
    process = subprocess.Popen(
        [AGORA, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in process.stderr:  # blocks until gunicorn has a worker up
        if "Booting worker" in line:
            break
    yield f"http://127.0.0.1:{port}", password
    process.terminate()
    process.communicate(timeout=30)


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture(params=list(VIEWPORTS))
def page(request, browser):
    context = browser.new_context(viewport=VIEWPORTS[request.param], locale="fr-FR")
    page = context.new_page()
    page.viewport_name = request.param
    yield page
    context.close()


#: Screenshots of the journeys' main steps, for people to look at (never committed).
SCREENSHOTS = Path(os.environ.get("AGORA_SCREENSHOTS") or Path(tempfile.gettempdir()) / "agora-screenshots")


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def pytest_terminal_summary(terminalreporter):
    if SCREENSHOTS.exists():
        terminalreporter.write_line(f"journey screenshots: {SCREENSHOTS}")


def served_pages(slug: str, username: str, *extra: str) -> list[str]:
    """Every page of the registry in the served instance's space `slug`, filled with its objects
    (tests/factories.py), as its site admin `username` sees them, then `extra`."""
    from sqlalchemy import select

    from agora import create_app
    from agora.auth.models import User
    from agora.extensions import db
    from tests.factories import page_urls

    folder = INSTANCE["path"]
    app = create_app({"INSTANCE_PATH": str(folder), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'agora.db'}"})
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.username == username))
        urls = page_urls(db, slug, user_id=user_id, site_admin=True)
        db.session.remove()
        db.engine.dispose()
    return [*urls, *extra]


def log_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")
