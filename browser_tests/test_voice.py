"""Speaking instead of writing: a member records a voice reply in the forum (Chromium's fake
microphone), another member plays it; without JavaScript, the same reply goes as a chosen file."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from browser_tests.conftest import CHROMIUM, READER, READER_PASSWORD, log_in, shot
from browser_tests.test_accessibility import AXE_OPTIONS
from tests.test_attachments import VOICE

FORUM = "/s/conseil-tilleuls/forum/"
#: Buttons of the recorder, each a labelled touch target of 44 × 44 px or more.
RECORDER_BUTTONS = [".voice-start", ".voice-stop", ".voice-restart", ".voice-discard"]


@pytest.fixture(scope="module")
def microphone(browser):
    """Chromium with a fake microphone (a beeping tone) that every page may use without asking."""
    chromium = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
        ],
    )
    yield chromium
    chromium.close()


def open_a_topic(page, base: str, title: str) -> str:
    """Open a new topic; return its address."""
    page.goto(f"{base}{FORUM}new")
    page.fill("#title", title)
    page.fill("#body", "Qui peut passer au jardin samedi ?")
    page.click("button[name=post]")
    assert page.inner_text("h1") == title
    return page.url


def record(page, seconds: int) -> None:
    page.get_by_role("button", name="Parler").click()
    expect(page.locator(".voice-status")).to_contain_text("Enregistrement en cours")
    expect(page.locator(".voice-stop")).to_be_focused()
    page.wait_for_function(
        "(shown) => document.querySelector('.voice-timer').textContent === shown", arg=f"0:{seconds:02d}"
    )
    page.locator(".voice-stop").click()
    page.wait_for_function("() => document.querySelector('#voice').files.length === 1")


def reader_page(browser, base: str):
    """(context, page) of the council's reader, logged in."""
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    log_in(page, base, READER, READER_PASSWORD)
    return context, page


def plays(page, message: str, longer_than: float) -> None:
    """The voice message of `message` (a selector) is a player that finds its length and shows
    it beside its title; the page has no serious accessibility fault."""
    player = page.locator(f"{message} audio")
    assert player.get_attribute("preload") == "metadata" and player.get_attribute("controls") is not None
    page.wait_for_function(
        "([selector, least]) => { const a = document.querySelector(selector);"
        " return a.readyState >= 1 && Number.isFinite(a.duration) && a.duration > least; }",
        arg=[f"{message} audio", longer_than],
    )
    expect(page.locator(f"{message} .voice-duration")).to_be_visible()
    violations = Axe().run(page, options=AXE_OPTIONS).response["violations"]
    assert [v["id"] for v in violations if v["impact"] in ("serious", "critical")] == []


def test_a_member_records_a_voice_reply_and_another_member_plays_it(server, microphone, browser):
    base, password = server
    context = microphone.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR")
    page = context.new_page()
    log_in(page, base, "admin", password)
    topic = open_a_topic(page, base, "Le jardin, à voix haute")
    assert page.locator(".voice-recorder").is_visible() and page.locator(".voice-file").is_hidden()
    assert page.locator(".voice-status").get_attribute("aria-live") == "polite"

    record(page, 1)
    expect(page.locator(".voice-status")).to_contain_text("Enregistrement terminé")
    assert page.locator(".voice-preview").is_visible()
    for selector in RECORDER_BUTTONS:
        button = page.locator(selector)
        if button.is_visible():
            box = button.bounding_box()
            assert box["width"] >= 44 and box["height"] >= 44, selector
            assert button.inner_text().strip(), selector
    page.get_by_role("button", name="Supprimer l’enregistrement").click()
    assert page.evaluate("document.querySelector('#voice').files.length") == 0
    assert page.locator(".voice-review").is_hidden() and "supprimé" in page.locator(".voice-status").inner_text()

    record(page, 2)
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.click("#reply button[name=preview]")
    assert "L’aperçu ne garde pas l’enregistrement" in dialogs[0]
    assert page.evaluate("document.querySelector('#voice').files.length") == 1  # still here, nothing sent
    sent = page.evaluate("(({type, name}) => ({type, name}))(document.querySelector('#voice').files[0])")
    assert sent["type"] == "audio/webm" and sent["name"].startswith("message-vocal-")
    shot(page, "voice-recorded")
    page.fill("#body", "")
    page.click("#reply button[name=post]")
    page.wait_for_url(f"{topic}**#post-*")
    post_id = page.url.split("#post-")[1]
    assert page.locator(f"#post-{post_id} audio").count() == 1
    context.close()

    reader, page = reader_page(browser, base)
    page.goto(f"{base}{FORUM}posts/{post_id}")
    plays(page, f"#post-{post_id}", 1)
    assert page.locator(f"#post-{post_id} .voice-duration").inner_text() in ("Durée : 0:01", "Durée : 0:02")
    shot(page, "voice-played")
    reader.close()


def test_without_javascript_a_voice_file_goes_with_the_reply(server, browser):
    base, password = server
    context = browser.new_context(java_script_enabled=False, locale="fr-FR")
    page = context.new_page()
    log_in(page, base, "admin", password)
    open_a_topic(page, base, "Le jardin, sans JavaScript")
    assert page.locator(".voice-recorder").is_hidden()
    field = page.locator("#voice")
    assert field.is_visible() and field.get_attribute("accept") == "audio/*"
    assert page.locator("#photos").get_attribute("capture") == "environment"
    page.click("#reply button[name=post]")
    assert "écrivez quelque chose ou enregistrez un message vocal" in page.locator(".error-summary").inner_text()
    field.set_input_files({"name": "depuis-le-telephone.webm", "mimeType": "audio/webm", "buffer": VOICE})
    page.click("#reply button[name=post]")
    post_id = page.url.split("#post-")[1]
    assert page.locator(f"#post-{post_id} audio[controls]").count() == 1
    assert page.locator(f"#post-{post_id} a", has_text="Télécharger le message vocal").is_visible()
    context.close()


def test_a_member_records_a_task_comment_and_a_reader_plays_it(server, microphone, browser):
    base, password = server
    context = microphone.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR")
    page = context.new_page()
    log_in(page, base, "admin", password)
    page.goto(f"{base}/s/conseil-tilleuls/tasks/")
    page.click("main ul.tasks a >> nth=0")
    task = page.url.split("#")[0]
    assert page.locator(".voice-recorder").is_visible() and page.locator(".voice-file").is_hidden()
    record(page, 1)
    expect(page.locator(".voice-status")).to_contain_text("Enregistrement terminé")
    page.get_by_role("button", name="Commenter").click()
    page.wait_for_url(f"{task}#comment-*")
    comment_id = page.url.split("#comment-")[1]
    assert page.locator(f"#comment-{comment_id} audio").count() == 1
    context.close()

    reader, page = reader_page(browser, base)
    response = page.goto(task)
    assert "microphone=()" in response.headers["permissions-policy"]
    assert page.locator(".voice-recorder").count() == 0
    plays(page, f"#comment-{comment_id}", 0.5)
    reader.close()
