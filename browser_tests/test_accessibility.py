"""Every page that exists, in a real browser, on a desktop and a 360 px phone screen:
no axe-core violation (WCAG 2.1 A/AA rules), nothing wider than the screen, no console error."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from browser_tests.conftest import log_in, served_pages, shot

AXE = Axe()
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}

ANONYMOUS_PAGES = ["/login", "/password/forgot", "/join/", "/nulle-part", "/accessibilite"]
#: Fields whose name is shown by something other than a <label>, and why that is enough.
LABEL_EXCEPTIONS = {
    "#header-q": "the search button beside it, « Chercher », names it (WCAG technique G167); its label is for screen readers",
    "td select, td input[type=checkbox]": "fields in a table cell: the column heading and the row's name label them visibly; "
    "each also has a label for screen readers",
    ".board-card select, #move-status": "the move buttons' status list sits beside its « Déplacer » button, with a label for screen readers",
}
SPACE_NAME = "Conseil citoyen des Tilleuls"

UNLABELLED = """(exceptions) => [...document.querySelectorAll("input, select, textarea")].filter((el) => {
    if (["hidden", "submit", "button"].includes(el.type) || el.closest("[hidden]")) return false;
    if (exceptions.some((selector) => el.matches(selector))) return false;
    const visible = [...el.labels].filter((l) => l.innerText.trim() && l.getBoundingClientRect().width > 2
                                                 && !l.classList.contains("visually-hidden"));
    const legend = el.closest("fieldset") && el.type === "radio" && el.closest("label");
    return visible.length === 0 && !legend;
}).map((el) => el.id || el.name)"""
#: Besides every page of the registry (browser_tests.conftest.served_pages): searches that find, and one that cannot.
EXTRA_PAGES = ["/search?q=jardin+partag%C3%A9", "/search?q=les", "/search?q=reun*&module=forum"]


def member_pages() -> list[str]:
    return served_pages("conseil-tilleuls", "admin", *EXTRA_PAGES)


def check(page, url: str) -> None:
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(url)
    results = AXE.run(page, options=AXE_OPTIONS)
    violations = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in results.response["violations"]]
    assert violations == [], f"{url} on {page.viewport_name}: {violations}"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{url} is {width}px wide on {page.viewport_name}"
    # What axe cannot see: a visible label on every field, and a title naming the page and the space.
    assert page.evaluate(UNLABELLED, list(LABEL_EXCEPTIONS)) == [], f"{url}: fields without a visible label"
    title = page.title()
    assert " · " in title and title.split(" · ")[0].strip(), f"{url}: the title does not name the page: {title!r}"
    if "/s/conseil-tilleuls" in url:
        assert SPACE_NAME in title, f"{url}: the title does not name the space: {title!r}"
    expected = "404" if "nulle-part" in url else "400" if "q=les" in url else None  # error pages on purpose
    assert [e for e in errors if not expected or expected not in e] == [], errors


@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_pages_before_login(server, page, path):
    base, _password = server
    check(page, base + path)


def test_pages_after_login(server, page):
    base, password = server
    log_in(page, base, "admin", password)
    for path in member_pages():
        check(page, base + path)
    page.goto(f"{base}/s/conseil-tilleuls/forum/")
    page.click("text=Un jardin partagé")
    check(page, page.url)
    page.goto(f"{base}/s/conseil-tilleuls/members/")
    page.click("text=Nadia Benali")
    check(page, page.url)
    page.goto(f"{base}/s/conseil-tilleuls/agenda/")
    page.click("text=Plénière du conseil citoyen >> nth=0")
    check(page, page.url)
    page.goto(f"{base}/s/conseil-tilleuls/tasks/")
    page.click("main ul.tasks a >> nth=0")
    check(page, page.url)
    page.goto(f"{base}/s/conseil-tilleuls/documents/")
    page.click("text=Photos de la marche exploratoire")
    check(page, page.url)
    page.click("text=Square Colette.jpg")
    check(page, page.url)
    for question in ("Quel nom pour le jardin partagé ?", "Quelle soirée pour la prochaine plénière ?"):
        page.goto(f"{base}/s/conseil-tilleuls/polls/")
        page.click(f"text={question}")
        check(page, page.url)
    page.goto(f"{base}/s/conseil-tilleuls/documents/")
    page.click("text=Comptes rendus")
    page.click("text=Ordre du jour plénière 8 décembre.txt")
    check(page, page.url)


def test_pages_stay_usable_at_200_percent_zoom(server, browser):
    """A 1280 px screen zoomed to 200 % shows pages 640 px wide: nothing may need sideways scrolling."""
    base, password = server
    context = browser.new_context(viewport={"width": 640, "height": 450}, locale="fr-FR")
    page = context.new_page()
    log_in(page, base, "admin", password)
    for path in member_pages() + ANONYMOUS_PAGES:
        page.goto(base + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 640, f"{path} is {width}px wide at 200 %"
    context.close()


def test_errors_are_tied_to_their_field_and_announced(server, page):
    base, password = server
    log_in(page, base, "admin", password)
    page.goto(f"{base}/s/conseil-tilleuls/forum/new")
    page.click("button[name=post]")
    field = page.locator("#title")
    assert field.get_attribute("aria-invalid") == "true"
    described = field.get_attribute("aria-describedby").split()
    messages = [page.inner_text(f"#{i}") for i in described]
    assert any("titre" in m.lower() for m in messages), messages
    assert page.locator(".error-summary[role=alert]").count() == 1
    assert page.locator(".error-summary a[href='#title']").count() == 1


def test_keyboard_reaches_the_content_first_through_the_skip_link(server, page):
    base, _password = server
    page.goto(f"{base}/login")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.evaluate("getComputedStyle(document.activeElement).top") != "-64px"  # it shows when focused
    page.keyboard.press("Enter")
    page.wait_for_function("location.hash === '#main'", timeout=5000)
    assert page.evaluate("document.activeElement.id") == "main"


def test_a_newcomer_posts_in_the_forum_by_keyboard_and_mouse(server, page):
    base, password = server
    log_in(page, base, "admin", password)
    page.goto(f"{base}/s/gup-tilleuls/forum/new")
    page.fill("#title", f"Bancs du square Colette ({page.viewport_name})")
    page.fill("#body", "Deux bancs sont **cassés**. Qui prévient la régie ?")
    page.click("button[name=preview]")
    assert page.inner_html(".preview .post-body").count("<strong>cassés</strong>") == 1
    page.click("button[name=post]")
    assert page.inner_text("h1") == f"Bancs du square Colette ({page.viewport_name})"
    page.fill("#body", "")
    page.click("#reply button[name=post]")
    assert "Le message est vide" in page.inner_text("#reply")


def test_a_member_subscribes_and_the_address_serves_the_calendar(server, page):
    """Journey 3 of the browser issue: create a recurring event, make the address, fetch it."""
    import urllib.request

    base, password = server
    log_in(page, base, "admin", password)
    page.goto(f"{base}/s/gup-tilleuls/agenda/new")
    page.fill("#title", f"Réunion GUP ({page.viewport_name})")
    page.fill("#start_date", "2027-03-16")
    page.fill("#start_time", "18:00")
    page.fill("#end_date", "2027-03-16")
    page.fill("#end_time", "19:30")
    page.select_option("#repeat", "weekly")
    page.select_option("#ends", "count")
    page.fill("#count", "4")
    page.click("main form button[type=submit]")
    assert "tous les" not in page.inner_text("h1")
    assert "4" in page.inner_text("dl")
    page.goto(f"{base}/s/gup-tilleuls/agenda/subscribe")
    page.click("main form button[type=submit]")
    address = page.inner_text("#feed-url").strip()
    shot(page, f"journey3-subscribe-{page.viewport_name}")
    assert page.get_attribute("a[href^='webcal://']", "href").endswith(address.split("://", 1)[1])
    with urllib.request.urlopen(address, timeout=10) as response:
        body = response.read().decode("utf-8")
    assert f"Réunion GUP ({page.viewport_name})" in body and "RRULE:" in body


def test_a_space_colour_is_picked_by_its_name_with_the_keyboard(server, page):
    base, password = server
    log_in(page, base, "admin", password)
    page.goto(f"{base}/s/partenaires-tilleuls/settings/")
    choices = page.locator(".swatch-choice")
    assert choices.count() == 8
    for n in range(choices.count()):
        box = choices.nth(n).bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, (choices.nth(n).inner_text(), box)
        assert choices.nth(n).inner_text().strip(), "every colour is written, not only shown"
    before = page.evaluate("document.querySelector('input[name=colour]:checked').value")
    page.focus("#description")
    page.keyboard.press("Tab")  # into the colours: the one picked takes the focus
    assert page.evaluate("document.activeElement.value") == before
    page.keyboard.press("ArrowRight")
    after = page.evaluate("document.activeElement.value")
    assert after != before and page.evaluate("document.activeElement.checked")
    focused = page.locator(".swatch-choice:has(input:focus)")
    assert focused.evaluate("label => getComputedStyle(label).outlineStyle") == "solid"  # the focus shows
    shot(page, f"space-colour-{page.viewport_name}")
    page.click("main form button[type=submit]")
    assert "enregistrés" in page.inner_text(".flash, [role=status], main")
    assert page.evaluate("document.querySelector('input[name=colour]:checked').value") == after
    assert page.get_attribute(".space-bar .colour-bar rect", "fill") == after


def test_a_habitant_joins_by_typing_the_code_of_a_printed_invitation(server, page):
    base, password = server
    log_in(page, base, "admin", password)
    page.goto(f"{base}/s/gup-tilleuls/members/manage/")
    page.fill("#inv-label", f"Affiche du hall ({page.viewport_name})")
    page.click("text=Créer le lien d'invitation")
    code = page.inner_text("#short-code").strip()
    assert len(code) == 9 and code[4] == "-"
    check(page, page.url)
    shot(page, f"invitation-code-{page.viewport_name}")
    page.context.clear_cookies()  # the habitant, on another day
    page.goto(f"{base}/login")
    page.click("text=J'ai un code d'invitation")
    check(page, page.url)
    page.fill("#code", f" {code.replace('-', ' ').lower()} ")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/join/code/{code.replace('-', '')}")
    assert "GUP des Tilleuls" in page.inner_text("h1")
    check(page, page.url)
    page.fill("#username", f"awa.{page.viewport_name}")
    page.fill("#display_name", "Awa")
    page.fill("#password", "le square colette au printemps")
    page.fill("#confirm", "le square colette au printemps")
    page.click("text=Créer mon compte et rejoindre l'espace")
    page.wait_for_url(f"{base}/s/gup-tilleuls/")
    assert "Bienvenue" in page.inner_text("main")
