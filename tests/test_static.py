"""Static files: compressed, cached for a year behind content-hashed URLs; a favicon; and the
hub's first visit stays small."""
from __future__ import annotations

import re

from portal.seed import seed_demo

ASSET = re.compile(r'(?:href|src)="(/static/[^"]+)"')


def test_static_urls_carry_a_content_hash_and_are_served_compressed_for_a_year(client):
    page = client.get("/").get_data(as_text=True)
    urls = ASSET.findall(page)
    assert any("htmx" in u for u in urls) and any("portal.css" in u for u in urls)
    for url in urls:
        assert re.search(r"\?v=[0-9a-f]{12}$", url), url
        response = client.get(url, headers={"Accept-Encoding": "br, gzip"})
        assert response.status_code == 200
        assert "max-age=31536000" in response.headers["Cache-Control"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        if not url.split("?")[0].endswith(".ico"):
            assert response.headers.get("Content-Encoding") == "br", url
    plain = client.get(urls[1].split("?")[0], headers={"Accept-Encoding": "gzip"})
    assert plain.headers.get("Content-Encoding") == "gzip"


def test_favicon_at_the_root_leads_to_the_static_one(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    icon = client.get(response.location)
    assert icon.status_code == 200 and icon.data[:4] == b"\x00\x00\x01\x00"  # an .ico


def test_pages_have_a_description(client):
    assert re.search(r'<meta name="description" content="[^"]{10,}"',
                     client.get("/").get_data(as_text=True))


def test_the_hub_first_visit_transfers_at_most_40_kb(app, client):
    """A new visitor (no cookies, nothing cached) on the demo portal: the page as served plus
    every stylesheet, script and icon it links, as a browser that takes Brotli gets them."""
    with app.app_context():
        seed_demo()
    page = client.get("/")
    total = len(page.data)
    for url in ASSET.findall(page.get_data(as_text=True)):
        total += len(client.get(url, headers={"Accept-Encoding": "br, gzip"}).data)
    print(f"hub first visit: {total} bytes")
    assert total <= 40 * 1024, total
