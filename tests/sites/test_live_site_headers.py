"""The live site: tenant text rendered escaped, strict security headers on every
response, and a dedicated sites host that serves nothing of the platform (issue 17 §5)."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from django.test import Client, override_settings

from organizations.tenancy import service_context
from sites.services import pages as page_services
from tests.sites.makers import sites_world
from tests.sites.support import deploy_now, make_site, public_get, publish

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _live_site(personas, content, *, title="Home", name="Shop", settings=None):
    """A site ``xss`` whose home page (``content``) is published and deployed."""
    owner = personas.users["owner"]
    site = make_site(personas.org, owner, "xss", settings=settings or {})
    if name != "Shop":
        with service_context(reason="test fixture: rename"):
            type(site).objects.filter(pk=site.pk).update(name=name)
            site.refresh_from_db()
    with service_context(reason="test fixture: page"):
        page = page_services.page_create(
            actor=owner, site=site, path="/", title=title, content=content
        )
    publish(site, page, owner)
    deploy_now(site, owner)
    return site


# --- escaping -----------------------------------------------------------------------------


def test_script_in_every_text_block_is_rendered_escaped(personas):
    """A `|safe` slip in templates/sites/blocks.html passed all sites tests (issue 17 §6)."""
    content = [
        {"type": "heading", "text": f"h1 {SCRIPT}", "level": 1},
        {"type": "heading", "text": f"h2 {SCRIPT}", "level": 2},
        {"type": "heading", "text": f"h3 {SCRIPT}", "level": 3},
        {"type": "heading", "text": f"h5 {SCRIPT}", "level": 5},
        {"type": "text", "text": f"para {SCRIPT}"},
        {"type": "button", "label": f"btn {SCRIPT}", "href": "/buy"},
        {"type": "image", "src": "https://img.example.test/a.png", "alt": f'"><{SCRIPT}'},
        {"type": "columns", "columns": [[{"type": "text", "text": f"col {SCRIPT}"}]]},
        {"type": "rich_text", "html": f"<p>rich {SCRIPT}</p>"},
    ]
    _live_site(personas, content, title=f"title {SCRIPT}", name=f"name {SCRIPT}")

    response = public_get("/p/acme/xss/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<script" not in html.lower()
    for label in ("h1", "h2", "h3", "h5", "para", "btn", "col", "title", "name"):
        assert f"{label} {ESCAPED}" in html, label
    assert f'alt="&quot;&gt;&lt;{ESCAPED}"' in html
    assert "rich" in html  # rich text is sanitised at save: the script is gone


def test_an_accent_colour_that_is_not_a_hex_colour_does_not_reach_the_style(personas):
    _live_site(personas, [{"type": "text", "text": "hi"}], settings={"accent_color": "red;x:y"})
    html = public_get("/p/acme/xss/").content.decode()
    assert "red;x:y" not in html and "#2f5bd3" in html


# --- headers --------------------------------------------------------------------------------


def _style_hashes(html: str) -> set[str]:
    return {
        "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"
        for css in re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
    }


def _assert_live_site_headers(response) -> None:
    csp = response["Content-Security-Policy"]
    directives = dict(
        ([*part.strip().split(" ", 1), ""])[:2] for part in csp.split(";") if part.strip()
    )
    assert directives["default-src"] == "'none'", csp
    assert directives["frame-ancestors"] == "'none'", csp
    assert directives["base-uri"] == "'none'", csp
    assert directives["form-action"] == "'none'", csp
    assert "script-src" not in directives, csp  # default-src 'none': no script at all
    assert "unsafe" not in csp, csp
    styles = set(directives["style-src"].split())
    html = response.content.decode()
    # Every <style> the page has is allowed by its hash, and nothing else is.
    assert styles == (_style_hashes(html) or {"'none'"}), (styles, html)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_every_live_site_response_sends_a_strict_csp_and_nosniff(personas):
    world = sites_world(personas)
    page = public_get("/p/acme/matrix-site/")
    assert page.status_code == 200 and _style_hashes(page.content.decode())
    responses = {
        "page": page,
        "missing page": public_get("/p/acme/matrix-site/nowhere/"),
        "missing site": public_get("/p/acme/no-such-site/"),
        "wrong method": Client().post("/p/acme/matrix-site/"),
    }
    assert [r.status_code for r in responses.values()] == [200, 404, 404, 405]
    with service_context(reason="test fixture: archive"):
        type(world["site"]).objects.filter(pk=world["site"].pk).update(status="archived")
    responses["archived"] = public_get("/p/acme/matrix-site/")
    assert responses["archived"].status_code == 410
    for name, response in responses.items():
        try:
            _assert_live_site_headers(response)
        except (AssertionError, KeyError) as exc:
            raise AssertionError(f"{name}: {exc!r}") from exc


def test_a_custom_domain_page_and_its_404_send_the_live_site_headers(personas):
    from tests.sites.test_domains import ACME_DOMAINS, _add_and_verify

    sites_world(personas)
    _add_and_verify(personas.client("admin"), ACME_DOMAINS, "shop.example.com")
    page = public_get("/", HTTP_HOST="shop.example.com")
    missing = public_get("/admin/", HTTP_HOST="shop.example.com")
    assert (page.status_code, missing.status_code) == (200, 404)
    _assert_live_site_headers(page)
    _assert_live_site_headers(missing)


# --- a host of their own ---------------------------------------------------------------------

OWN_HOST = override_settings(
    SITES_PUBLIC_BASE_URL="http://sites.example.test",
    FRONTEND_URL="http://testserver",
    ALLOWED_HOSTS=["testserver", "sites.example.test"],
)


@OWN_HOST
@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/login/", "/api/v1/health/", "/api/docs/", "/reset-password", "/"]
)
def test_the_sites_own_host_serves_nothing_of_the_platform(personas, path):
    response = public_get(path, HTTP_HOST="sites.example.test")
    assert response.status_code == 404
    _assert_live_site_headers(response)
    # ... which the platform's host still serves.
    assert public_get(path).status_code != 404 or path == "/"


@OWN_HOST
def test_the_sites_own_host_serves_the_live_site_and_the_platform_host_sends_it_there(personas):
    sites_world(personas)
    page = public_get("/p/acme/matrix-site/", HTTP_HOST="sites.example.test")
    assert page.status_code == 200 and b"<title>Matrix home</title>" in page.content
    _assert_live_site_headers(page)

    moved = public_get("/p/acme/matrix-site/?a=1")
    assert moved.status_code == 301
    assert moved["Location"] == "http://sites.example.test/p/acme/matrix-site/?a=1"


def test_by_default_the_live_site_shares_the_platform_host(personas):
    sites_world(personas)
    assert public_get("/p/acme/matrix-site/").status_code == 200
    assert public_get("/admin/login/").status_code == 200
