"""What every error response of the API must look like (api.md §1)."""

from __future__ import annotations

import httpx


def assert_error(response: httpx.Response, status: int, type: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["message"] and "Traceback" not in response.text
    if type:
        assert error["type"] == type
    return error
