"""/docs works on a machine without internet: Swagger UI's scripts and styles
come from the local server, and the OAuth2 redirect page is served too."""

import re


def test_docs_page_loads_only_local_assets(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(url.startswith("/") for url in assets)
    for url in assets:
        response = client.get(url)
        assert response.status_code == 200, url
        assert len(response.content) > 0


def test_docs_know_the_login_route_for_authorize(client):
    schema = client.get("/openapi.json").json()
    flows = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]
    assert flows["password"]["tokenUrl"] == "/auth/login"
    assert client.get("/docs/oauth2-redirect").status_code == 200


def test_unknown_docs_asset_is_a_json_404(client):
    response = client.get("/docs/nothing.js")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
