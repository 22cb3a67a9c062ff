"""While PostgreSQL is down the API answers 503 in the JSON shape, and recovers by itself."""

from __future__ import annotations

import asyncio

import httpx

from gateway.app import create_app
from tests.support.gateways import make_settings
from tests.support.servers import ServerThread

API = "/api/v1"


async def test_503_while_down_then_recovers(private_postgres):
    embedded, dsn = private_postgres
    server = ServerThread.for_app(
        lambda port: create_app(
            make_settings(
                database_url=dsn,
                port=port,
                simulator_url="http://127.0.0.1:9",
                db_command_timeout=3,
            )
        )
    ).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
            created = await client.post(f"{API}/conversations/", json={"title": "survives"})
            assert created.status_code == 201

            await asyncio.to_thread(embedded.stop_server)
            for call in (
                client.get(f"{API}/conversations/"),
                client.post(f"{API}/conversations/", json={"title": "lost?"}),
                client.get(f"{API}/conversations/{created.json()['id']}"),
            ):
                response = await call
                assert response.status_code == 503, response.text
                assert response.json()["error"]["type"] == "database_unavailable"
                assert response.headers["retry-after"]
            assert (await client.get(f"{API}/health")).status_code == 503

            await asyncio.to_thread(embedded.start_server)
            listed = await client.get(f"{API}/conversations/")
            assert listed.status_code == 200
            assert [c["title"] for c in listed.json()] == ["survives"]
            assert (await client.get(f"{API}/health")).json()["database"] == "ok"
    finally:
        server.stop()
