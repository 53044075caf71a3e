"""Journeys as people make them, in Chromium, on a desktop and a 360 px phone screen."""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import Browser

from browser_tests.conftest import READER, READER_PASSWORD, VIEWPORTS, log_in, shot


def test_hosting_admin_creates_a_council_space_and_an_invitation_then_a_habitant_joins(server, page, browser: Browser):
    """Journeys 1 and 2: the admin sets up a council; a habitant without e-mail joins and replies."""
    base, password = server
    suffix = page.viewport_name
    log_in(page, base, "admin", password)

    # 1. The hosting admin creates the space, names themself its admin, and makes an invitation.
    page.goto(f"{base}/admin/spaces/new")
    page.fill("#name", f"Conseil citoyen du Parc ({suffix})")
    page.fill("#slug", f"conseil-parc-{suffix}")
    page.fill("#admin", "admin")
    page.click("main form button[type=submit]")
    assert "est créé" in page.inner_text(".flashes")
    page.goto(f"{base}/s/conseil-parc-{suffix}/forum/new")
    page.fill("#title", "Bienvenue au conseil")
    page.fill("#body", "Présentez-vous ici !")
    page.click("button[name=post]")
    page.goto(f"{base}/s/conseil-parc-{suffix}/members/manage/")
    page.fill("#inv-label", "Affiche du centre social")
    page.select_option("#inv-role", "member")
    page.fill("#inv-max_uses", "30")
    page.click("text=Créer le lien d'invitation")
    assert page.locator(".qr svg").count() == 1
    link = page.inner_text("#secret-link").strip()
    assert re.match(r"http://127\.0\.0\.1:\d+/join/", link)
    shot(page, f"journey1-invitation-{suffix}")

    # 2. A habitant without e-mail opens it on their own device, creates an account, and replies.
    habitant = browser.new_context(viewport=VIEWPORTS[suffix], locale="fr-FR").new_page()
    habitant.goto(link)
    assert "Pas besoin d'adresse e-mail" in habitant.inner_text("main")
    shot(habitant, f"journey2-invitation-{suffix}")
    # With the keyboard alone: Tab to each field, type, Enter on the button.
    for selector, value in (
        ("#username", f"habitante.{suffix}"),
        ("#display_name", "Habitante du Parc"),
        ("#password", "mes fleurs au balcon"),
        ("#confirm", "mes fleurs au balcon"),
    ):
        _tab_to(habitant, selector)
        habitant.keyboard.type(value)
    _tab_to(habitant, "main form button[type=submit]")
    habitant.keyboard.press("Enter")
    habitant.wait_for_url(f"**/s/conseil-parc-{suffix}/")
    assert "Bienvenue dans l'espace" in habitant.inner_text(".flashes")
    if suffix == "phone":  # the space's tabs are behind the menu button, opened with Enter
        _tab_to(habitant, "summary.menu-button")
        habitant.keyboard.press("Enter")
    _tab_to(habitant, "nav.space-nav a", "Forum")
    habitant.keyboard.press("Enter")
    habitant.wait_for_url(f"**/s/conseil-parc-{suffix}/forum/")
    _tab_to(habitant, "main a", "Bienvenue au conseil")
    with habitant.expect_navigation():
        habitant.keyboard.press("Enter")
    _tab_to(habitant, "#body")
    habitant.keyboard.type("Bonjour, j'habite le bâtiment B.")
    _tab_to(habitant, "#reply button[name=post]")
    with habitant.expect_navigation():
        habitant.keyboard.press("Enter")
    assert "j'habite le bâtiment B" in habitant.inner_text(".posts")
    shot(habitant, f"journey2-reply-{suffix}")
    habitant.context.close()

    # Journey 7: the admin finds that reply with the header's search box, typed without accents.
    if suffix == "phone":  # the search box is in the menu
        page.click("summary.menu-button")
    page.fill("#header-q", "batiment habite")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/search\?q=batiment"))
    result = page.locator(".search-results li", has_text=f"Conseil citoyen du Parc ({suffix})")
    # The background process indexes the reply within about a second of its commit: search again meanwhile.
    deadline = time.monotonic() + 5
    while not result.count() and time.monotonic() < deadline:
        page.wait_for_timeout(250)
        page.reload()
    assert result.locator(".result-title").inner_text() == "Bienvenue au conseil"
    assert "bâtiment" in result.locator("mark").all_inner_texts()
    shot(page, f"journey7-search-{suffix}")


def test_a_task_moves_on_the_board_by_button_and_by_drag_and_drop(server, page, browser: Browser):
    """Journey 5: with JavaScript (drag and drop) and without it (the plain form button)."""
    base, password = server
    log_in(page, base, "admin", password)
    page.goto(f"{base}/s/partenaires-tilleuls/tasks/new")
    page.fill("#title", f"Tract de la fête ({page.viewport_name})")
    page.click("main form button[type=submit]")
    task_url = page.url
    page.goto(f"{base}/s/partenaires-tilleuls/tasks/board")
    card = page.locator(".board-card", has_text=f"Tract de la fête ({page.viewport_name})")
    if page.viewport_name == "desktop":  # a mouse drags; phones (touch) use the button below
        card.drag_to(page.locator(".board-column").nth(1))
    else:
        card.locator("select").select_option(label="En cours")
        card.locator("button").click()
    page.wait_for_load_state()
    assert "En cours" in page.inner_text(".flashes")
    assert page.locator(".board-column").nth(1).locator(".board-card", has_text="Tract de la fête").count() == 1
    shot(page, f"journey5-board-{page.viewport_name}")

    no_js = browser.new_context(
        viewport=VIEWPORTS[page.viewport_name], locale="fr-FR", java_script_enabled=False
    ).new_page()
    log_in(no_js, base, "admin", password)
    no_js.goto(f"{base}/s/partenaires-tilleuls/tasks/board")
    card = no_js.locator(".board-card", has_text=f"Tract de la fête ({page.viewport_name})")
    card.locator("select").select_option(label="Fait")
    card.locator("button").click()
    assert "Fait" in no_js.inner_text(".flashes")
    no_js.goto(task_url)
    assert "100 %" in no_js.inner_text("main")
    no_js.context.close()


def test_a_member_uploads_a_document_then_a_new_version_and_downloads_the_old_one(
    server, page, browser: Browser, tmp_path
):
    """Journey 4: the upload form sent by JavaScript (with its progress bar), then without JavaScript."""
    base, password = server
    log_in(page, base, "admin", password)
    name = f"Compte rendu GUP ({page.viewport_name}).txt"
    first = tmp_path / name
    first.write_text("Version du 4 novembre", encoding="utf-8")
    page.goto(f"{base}/s/gup-tilleuls/documents/")
    page.set_input_files("#files", str(first))
    page.click("#upload button[type=submit]")
    page.wait_for_url(f"{base}/s/gup-tilleuls/documents/")
    assert "1 fichier ajouté" in page.inner_text(".flashes")
    document_url = base + page.locator("main table a", has_text=name).get_attribute("href")

    no_js = browser.new_context(
        viewport=VIEWPORTS[page.viewport_name], locale="fr-FR", java_script_enabled=False
    ).new_page()
    log_in(no_js, base, "admin", password)
    second = tmp_path / "relu.txt"
    second.write_text("Version relue le 18 novembre", encoding="utf-8")
    no_js.goto(document_url)
    no_js.set_input_files("#file", str(second))
    no_js.fill("#note", "relue par Sophie")
    no_js.click("#new-version button[type=submit]")
    assert "nouvelle version est enregistrée" in no_js.inner_text(".flashes")
    no_js.context.close()

    page.goto(document_url)
    assert "relue par Sophie" in page.inner_text("#versions")
    with page.expect_download() as current:
        page.click("main .actions a:has-text('Télécharger')")
    assert Path(current.value.path()).read_text(encoding="utf-8") == "Version relue le 18 novembre"
    assert current.value.suggested_filename == name
    with page.expect_download() as old:
        page.click("#versions tbody tr:last-child a")
    assert Path(old.value.path()).read_text(encoding="utf-8") == "Version du 4 novembre"
    shot(page, f"journey4-versions-{page.viewport_name}")


def _tab_to(page, selector: str, text: str | None = None, limit: int = 120) -> list[str]:
    """Press Tab until an element matching selector (and showing text, when given) has the focus;
    return what was focused on the way, each checked to show a visible focus outline."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """([selector, text]) => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            const label = (el.innerText || el.value || el.name || "").trim();
            return {tag: el.tagName, text: label.slice(0, 40),
                    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
                    match: el.matches(selector) && (text === null || label === text)};
        }""",
            [selector, text],
        )
        seen.append(focused["text"])
        assert focused["outline"], f"no visible focus on {focused}"
        if focused["match"]:
            return seen
    raise AssertionError(f"{selector} {text or ''} never got the focus: {seen}")


def test_a_reader_votes_in_a_poll_with_the_keyboard_alone(server, page):
    """Journeys 6 and keyboard-only: a habitant following the council as a reader votes, by Tab, Space and Enter."""
    base, _password = server
    log_in(page, base, READER, READER_PASSWORD)
    page.goto(f"{base}/s/conseil-tilleuls/")
    page.click("text=Quelle soirée pour la prochaine plénière ?")
    page.wait_for_load_state()
    path = _tab_to(page, "input[type=radio][value=yes]")
    assert path[0] == "Aller au contenu"  # the skip link comes first
    page.keyboard.press("Space")
    first_yes = page.locator("input[type=radio][value=yes]").first
    assert first_yes.is_checked()
    _tab_to(page, "form.ballot button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    status = page.inner_text(".flashes")
    assert "Votre vote est enregistré" in status and "Oui" in status
    assert "Vous avez voté." in page.inner_text("#vote-status")
    shot(page, f"journey6-vote-{page.viewport_name}")
