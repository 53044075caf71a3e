"""Mode simple, as a habitant with few digital skills meets it: one button at the bottom of the page,
then bigger text, an icon with every tab, one column, big targets, on a 1280 px screen and a 360 px phone."""

from __future__ import annotations

import os
import subprocess

import pytest

from browser_tests.conftest import AGORA, INSTANCE, log_in, shot
from browser_tests.test_accessibility import AXE, AXE_OPTIONS
from browser_tests.test_phone import DESKTOP, FIRST_SCREENS, FORMS, PHONE

#: An account of its own: the others' pages in the same server stay in the usual display.
SIMPLE_USER, SIMPLE_PASSWORD = "simone.simple", "le marché du samedi matin"
SPACE = "/s/conseil-tilleuls/"

#: Controls and links smaller than 48 × 48 px (the mode's promise; the usual display keeps 44 px).
SMALL_TARGETS = """() => [...document.querySelectorAll(
    "main input:not([type=hidden]), main select, main textarea, main button, main summary, main a,"
    + " header button, header summary, header input, header a, footer button, footer select, footer a")].filter((el) => {
    if (!el.checkVisibility()) return false;
    if (el.closest(".post-body, .news-body")) return false;  // a link in a sentence someone wrote (WCAG 2.5.8 inline)
    const box = el.getBoundingClientRect();
    const least = ["checkbox", "radio"].includes(el.type) ? 32 : 48;  // a box of 32 px inside its label's row
    return box.width < least || box.height < least;
}).map((el) => `${el.tagName.toLowerCase()}#${el.id || el.name || el.textContent.trim().slice(0, 20)} ${Math.round(el.getBoundingClientRect().width)}×${Math.round(el.getBoundingClientRect().height)}`)"""


@pytest.fixture(scope="module")
def simple_user(server):
    """Create the account, a member of the council, through the console as a hosting admin would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env["AGORA_INSTANCE"] = str(INSTANCE["path"])
    for command in (
        ["user", "create", SIMPLE_USER, "--name", "Simone Simple", "--password", SIMPLE_PASSWORD],
        ["space", "add-member", "conseil-tilleuls", SIMPLE_USER, "--role", "admin"],
    ):
        subprocess.run([AGORA, *command], env=env, check=True, capture_output=True)
    return SIMPLE_USER


def _simple_page(browser, server, viewport, javascript=True):
    """A logged-in page of the account, with the mode switched on by its footer button."""
    base, _password = server
    context = browser.new_context(viewport=viewport, locale="fr-FR", java_script_enabled=javascript)
    page = context.new_page()
    log_in(page, base, SIMPLE_USER, SIMPLE_PASSWORD)
    switch = page.locator("footer button", has_text="Mode simple")
    if switch.count():
        switch.click()
        page.wait_for_load_state()
    return page


@pytest.fixture
def desktop(browser, server, simple_user):
    page = _simple_page(browser, server, DESKTOP)
    yield page
    page.context.close()


@pytest.fixture
def phone(browser, server, simple_user):
    page = _simple_page(browser, server, PHONE)
    yield page
    page.context.close()


def _is_simple(page) -> bool:
    return page.evaluate("document.documentElement.classList.contains('simple-mode')")


def _violations(page) -> list:
    violations = AXE.run(page, options=AXE_OPTIONS).response["violations"]
    return [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in violations]


def test_the_footer_button_switches_without_javascript_and_comes_back_to_the_same_page(browser, server, simple_user):
    base, _password = server
    page = _simple_page(browser, server, PHONE, javascript=False)
    page.goto(f"{base}{SPACE}forum/")
    assert _is_simple(page)
    page.click("footer button >> text=Affichage habituel")
    page.wait_for_url(f"{base}{SPACE}forum/")
    assert not _is_simple(page)
    assert "Affichage habituel rétabli." in page.inner_text(".flashes")
    shot(page, "simple-mode-off-forum-phone")
    page.click("footer button >> text=Mode simple")
    page.wait_for_url(f"{base}{SPACE}forum/")
    assert _is_simple(page)
    assert "Mode simple activé." in page.inner_text(".flashes")
    page.context.close()


def test_a_wide_screen_shows_the_space_home_in_one_column_with_big_text_and_icons(server, desktop):
    base, _password = server
    desktop.goto(base + SPACE)
    assert _is_simple(desktop)
    assert desktop.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 20
    main = desktop.locator("main").bounding_box()
    width = desktop.evaluate("document.documentElement.clientWidth")
    assert main["width"] >= width - 2, "main spans the screen"
    # Every block of the home (upcoming events, my tasks, news, what's new) stands under the one before, full width.
    blocks = desktop.evaluate("""() => [...document.querySelectorAll("main > section, main > article")].map((el) => {
        const box = el.getBoundingClientRect(); return {x: box.x, width: box.width, top: box.top, bottom: box.bottom};
    })""")
    assert len(blocks) >= 3
    for block in blocks:
        assert block["x"] <= 32 and block["width"] >= width - 64, blocks
    for above, below in zip(blocks, blocks[1:], strict=False):
        assert below["top"] >= above["bottom"] - 1, blocks
    tab = desktop.locator("header .space-nav a", has_text="Forum")
    assert tab.is_visible() and tab.inner_text().strip() == "Forum"
    icon = tab.locator("svg.icon")
    assert icon.is_visible() and icon.bounding_box()["width"] >= 20
    assert tab.bounding_box()["height"] >= 48
    # A main action that has no icon in the usual display shows one here.
    desktop.goto(f"{base}{SPACE}forum/new")
    preview = desktop.locator("main button", has_text="Aperçu")
    assert preview.locator("svg.icon").is_visible()
    shot(desktop, "simple-mode-space-home-desktop")


def test_a_wide_screen_stacks_the_spaces_cards_and_the_directory(server, desktop):
    base, _password = server
    for path, selector in (("/", ".cards > li"), (f"{SPACE}members/", ".member-cards > li")):
        desktop.goto(base + path)
        xs = {round(box["x"]) for box in (el.bounding_box() for el in desktop.locator(selector).all())}
        assert len(xs) == 1, f"{path}: cards side by side at {xs}"
    shot(desktop, "simple-mode-directory-desktop")


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_no_page_scrolls_sideways_and_every_target_is_big(server, request, viewport):
    page = request.getfixturevalue(viewport)
    base, _password = server
    for path in FIRST_SCREENS + FORMS + ["/profile", f"{SPACE}forum/"]:
        page.goto(base + path)
        if path.endswith("forum/"):  # a topic: posts, reactions, the reply form
            page.click("text=Un jardin partagé")
        assert _is_simple(page), path
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= page.viewport_size["width"], f"{path} is {scroll}px wide on {viewport}"
        assert page.evaluate(SMALL_TARGETS) == [], f"{path} on {viewport}"
    shot(page, f"simple-mode-topic-{viewport}")


def test_a_phone_shows_the_tabs_with_their_icons_behind_the_menu_button(server, phone):
    base, _password = server
    phone.goto(base + SPACE)
    shot(phone, "simple-mode-space-home-phone")
    phone.click("summary.menu-button")
    tab = phone.locator("header .space-nav a", has_text="Forum")
    assert tab.locator("svg.icon").is_visible() and tab.bounding_box()["height"] >= 48
    shot(phone, "simple-mode-menu-open-phone")


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_axe_finds_nothing_in_the_mode(server, request, viewport):
    page = request.getfixturevalue(viewport)
    base, _password = server
    for path in FIRST_SCREENS + FORMS + ["/profile"]:
        page.goto(base + path)
        assert _violations(page) == [], f"{path} on {viewport}"
