"""What a habitant meets first on a 360 × 740 phone and on a 1280 px screen: the menu button,
big touch targets, whole words in the directory, icons that show without an emoji font."""

from __future__ import annotations

import pytest

from browser_tests.conftest import log_in, shot
from browser_tests.test_accessibility import AXE, AXE_OPTIONS

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
SPACE_NAME = "Conseil citoyen des Tilleuls"
#: Pages of a space whose first screen must show their content (their <h1>) on a phone.
FIRST_SCREENS = [
    "/s/conseil-tilleuls/",
    "/s/conseil-tilleuls/forum/",
    "/s/conseil-tilleuls/agenda/",
    "/s/conseil-tilleuls/documents/",
    "/s/conseil-tilleuls/tasks/",
    "/s/conseil-tilleuls/polls/",
    "/s/conseil-tilleuls/members/",
    "/s/conseil-tilleuls/members/manage/",
    "/",
    "/notifications",
]
#: Forms whose every control must be a large touch target (the time fields were 24 px high).
FORMS = [
    "/s/conseil-tilleuls/agenda/new",
    "/s/conseil-tilleuls/polls/new-date",
    "/s/conseil-tilleuls/polls/new",
    "/s/conseil-tilleuls/tasks/new",
    "/s/conseil-tilleuls/forum/new",
    "/s/conseil-tilleuls/settings/",
]

SMALL_CONTROLS = """() => [...document.querySelectorAll(
    "main input:not([type=hidden]):not([type=checkbox]):not([type=radio]), main select, main textarea, main button, main summary,"
    + " header button, header summary, header input, header a")].filter((el) => {
    if (!el.checkVisibility()) return false;  // not shown: inside the closed menu, a hidden copy button
    const box = el.getBoundingClientRect();
    return box.width < 44 || box.height < 44;
}).map((el) => `${el.tagName.toLowerCase()}#${el.id || el.name || el.textContent.trim().slice(0, 20)} ${Math.round(el.getBoundingClientRect().width)}×${Math.round(el.getBoundingClientRect().height)}`)"""

#: Words drawn on more than one line: a word broken in the middle.
BROKEN_WORDS = """(selector) => {
    const broken = [];
    for (const root of document.querySelectorAll(selector)) {
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const match of node.data.matchAll(/\\S+/g)) {
                const range = document.createRange();
                range.setStart(node, match.index);
                range.setEnd(node, match.index + match[0].length);
                const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
                if (tops.size > 1) broken.push(match[0]);
            }
        }
    }
    return broken;
}"""


def _admin_page(browser, server, viewport):
    base, password = server
    context = browser.new_context(viewport=viewport, locale="fr-FR")
    page = context.new_page()
    log_in(page, base, "admin", password)
    return page


@pytest.fixture
def phone(browser, server):
    page = _admin_page(browser, server, PHONE)
    yield page
    page.context.close()


@pytest.fixture
def desktop(browser, server):
    page = _admin_page(browser, server, DESKTOP)
    yield page
    page.context.close()


def test_a_phone_shows_the_content_first_with_the_space_name_the_bell_and_one_menu_button(server, phone):
    base, _password = server
    for path in FIRST_SCREENS:
        phone.goto(base + path)
        heading = phone.locator("main h1").bounding_box()
        assert heading["y"] + heading["height"] <= PHONE["height"] / 2, (
            f"{path}: the page's title starts at {heading['y']}px"
        )
        assert phone.locator("header a.bell").is_visible()
        assert phone.locator("summary.menu-button").is_visible()
        assert phone.locator("header .main-nav").is_hidden()
        if path.startswith("/s/"):
            assert phone.locator("header .space-title").inner_text() == SPACE_NAME
            assert phone.locator("header .space-nav").is_hidden()
    shot(phone, "phone-home-menu-closed")


@pytest.mark.parametrize("javascript", [True, False])
def test_the_menu_button_opens_the_space_tabs_and_the_site_links(browser, server, javascript):
    base, password = server
    context = browser.new_context(viewport=PHONE, locale="fr-FR", java_script_enabled=javascript)
    page = context.new_page()
    log_in(page, base, "admin", password)
    page.goto(f"{base}/s/conseil-tilleuls/")
    page.click("summary.menu-button")
    assert page.locator("header .space-nav a", has_text="Forum").is_visible()
    assert page.locator("header .main-nav a", has_text="Mon agenda").is_visible()
    assert page.locator("header .space-nav [aria-current=page]").inner_text().strip() == "Accueil"
    if javascript:  # axe-core runs as a script in the page
        violations = AXE.run(page, options=AXE_OPTIONS).response["violations"]
        assert [v["id"] for v in violations] == []
    shot(page, f"phone-home-menu-open{'' if javascript else '-nojs'}")
    page.click("header .space-nav a >> text=Forum")
    page.wait_for_url(f"{base}/s/conseil-tilleuls/forum/")
    assert page.locator("header .space-nav").is_hidden()  # a new page starts with the menu closed
    context.close()


def test_a_wide_screen_shows_the_tabs_without_a_button(server, desktop):
    base, _password = server
    desktop.goto(f"{base}/s/conseil-tilleuls/")
    assert desktop.locator("summary.menu-button").is_hidden()
    for name in ("Forum", "Agenda", "Annuaire"):
        assert desktop.locator("header .space-nav a", has_text=name).is_visible()
    assert desktop.locator("header .main-nav a", has_text="Mes tâches").is_visible()
    assert desktop.locator("header a.bell", has_text="Notifications").is_visible()
    shot(desktop, "desktop-home")


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_every_control_of_the_forms_is_a_large_touch_target(server, request, viewport):
    page = request.getfixturevalue(viewport)
    base, _password = server
    for path in FORMS + ["/s/conseil-tilleuls/"]:
        page.goto(base + path)
        assert page.evaluate(SMALL_CONTROLS) == [], f"{path} on {viewport}"
    page.goto(f"{base}/s/conseil-tilleuls/agenda/new")
    time_field = page.locator("#start_time").bounding_box()
    date_field = page.locator("#start_date").bounding_box()
    assert time_field["height"] == date_field["height"]
    shot(page, f"event-form-{viewport}")


def test_the_directory_keeps_its_words_whole_on_a_wide_screen(server, desktop):
    base, _password = server
    desktop.goto(f"{base}/s/conseil-tilleuls/members/")
    assert desktop.locator(".member-card").count() >= 3
    assert desktop.evaluate(BROKEN_WORDS, ".member-card") == []
    shot(desktop, "directory-desktop")


def test_the_agree_reaction_shows_an_icon_served_by_agora(server, desktop):
    base, _password = server
    desktop.goto(f"{base}/s/conseil-tilleuls/forum/")
    desktop.click("text=Un jardin partagé")
    button = desktop.locator("button", has_text="D'accord").first
    assert "👍" not in button.inner_text()
    use = button.locator("svg.icon use")
    assert use.get_attribute("href").startswith("/static/icons.svg#")
    box = button.locator("svg.icon").bounding_box()
    assert box["width"] >= 16 and box["height"] >= 16
    # The sprite draws: its symbol has shapes (an empty <use> would draw nothing).
    assert desktop.evaluate("(el) => el.getBBox().width", use.element_handle()) > 8


#: Records what the page asks the browser to say, instead of a sound nobody hears in a test.
FAKE_SPEECH = """window.__said = [];
window.speechSynthesis.speak = (u) => { window.__said.push({text: u.text, lang: u.lang}); };
window.speechSynthesis.cancel = () => { window.__said.push("cancel"); };"""


def test_listen_reads_a_post_aloud_in_french_and_stops(server, desktop):
    base, _password = server
    desktop.add_init_script(FAKE_SPEECH)
    desktop.goto(f"{base}/s/conseil-tilleuls/forum/")
    desktop.click("text=Un jardin partagé")
    button = desktop.locator("#posts button.listen, .posts button.listen").first
    label = button.locator(".listen-label")
    button.wait_for(state="visible")  # shown by the page's script once it has run
    assert label.inner_text() == "Écouter"
    button.click()
    said = desktop.evaluate("window.__said")
    spoken = [s for s in said if s != "cancel"][0]
    first_post = desktop.locator(".posts .post-body").first.inner_text().strip()
    assert spoken["lang"] == "fr-FR" and first_post[:40] in spoken["text"]
    assert label.inner_text() == "Arrêter"
    button.click()
    assert label.inner_text() == "Écouter" and desktop.evaluate("window.__said").count("cancel") == 2


def test_listen_is_hidden_without_javascript(browser, server):
    base, password = server
    context = browser.new_context(viewport=PHONE, locale="fr-FR", java_script_enabled=False)
    page = context.new_page()
    log_in(page, base, "admin", password)
    page.goto(f"{base}/s/conseil-tilleuls/")
    assert page.locator("button.listen").count() >= 1
    assert page.locator("button.listen").first.is_hidden()
    context.close()
