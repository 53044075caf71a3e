"""Hostile text in a real browser: every page that shows it, and no script of it ever runs.

A member writes the payloads of tests/security/test_xss.py into every field; another member
visits every page that shows them in Chromium. The test fails if a dialog opens, if a payload's
marker global is set, or if the browser reports a blocked inline script (the Content-Security-
Policy would hide an escaping mistake: it must have nothing to block).
"""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager

import pytest

from browser_tests.conftest import AGORA, free_port, log_in
from tests.security.test_xss import PAYLOADS, _seed, payload_pages

VIEWER, WRITER, PASSWORD = "visiteuse", "auteur", "une phrase pour le navigateur"


@contextmanager
def _instance_env(instance):
    saved = os.environ.get("AGORA_INSTANCE")
    os.environ["AGORA_INSTANCE"] = str(instance)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("AGORA_INSTANCE")
        else:
            os.environ["AGORA_INSTANCE"] = saved


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    """A server whose space is full of payloads; yield (base URL, the pages that show them)."""
    instance = tmp_path_factory.mktemp("hostile")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env["AGORA_INSTANCE"] = str(instance)
    run = lambda *a: subprocess.run([AGORA, *a], env=env, check=True, capture_output=True, text=True)  # noqa: E731
    run("init")
    for name in (VIEWER, WRITER):
        run("user", "create", name, "--password", PASSWORD)
    run("space", "create", "piege", "--name", "Espace piégé", "--admin", VIEWER)
    run("space", "add-member", "piege", WRITER, "--role", "member")
    from agora import create_app
    from agora.auth.services import get_user_by_username
    from agora.extensions import db
    from agora.spaces.services import get_space_by_slug

    with _instance_env(instance):
        app = create_app()
        with app.app_context():
            space, writer = get_space_by_slug("piege"), get_user_by_username(WRITER)
            _seed(app, space.id, writer.id)
            pages = payload_pages(db, "piege", writer.id)
            db.engine.dispose()
    port = free_port()
    process = subprocess.Popen(
        [AGORA, "serve", "--port", str(port), "--workers", "1", "--no-mail-sender"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in process.stderr:
        if "Booting worker" in line:
            break
    yield f"http://127.0.0.1:{port}", pages
    process.terminate()
    process.communicate(timeout=30)


def test_no_payload_runs_in_the_browser(hostile_server, browser):
    base, pages = hostile_server
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    dialogs, blocked = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on(
        "console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None
    )
    log_in(page, base, VIEWER, PASSWORD)
    # The hooks themselves: a dialog and a blocked inline script are both seen.
    page.evaluate("() => alert('essai')")
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.__agoraXss = 1';
                           document.body.appendChild(s); }""")
    page.wait_for_timeout(200)
    assert dialogs == ["essai"] and blocked and page.evaluate("() => window.__agoraXss === undefined")
    dialogs.clear()
    blocked.clear()
    seen = 0
    for path in pages:
        response = page.goto(base + path)
        assert response.status == 200, path
        page.wait_for_load_state("load")
        for element in page.locator("details").all():  # folded parts too (previews, menus)
            element.evaluate("node => node.open = true")
        assert page.evaluate("() => window.__agoraXss === undefined"), f"a payload ran on {path}"
        assert dialogs == [], f"a dialog opened on {path}: {dialogs}"
        assert blocked == [], f"the browser blocked an injected script on {path}: {blocked[:2]}"
        seen += page.content().count("alert(") > 0
    assert seen >= len(pages) // 2  # the payloads really are on the pages, as text
    for link in page.locator("a[href^='javascript:']").all():
        pytest.fail(f"a javascript: link survived: {link.get_attribute('href')}")
    context.close()
    assert len(PAYLOADS) >= 6
