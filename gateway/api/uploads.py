"""Images for prompts: ``POST /uploads`` (multipart/form-data, the image in the field ``file``)
and ``GET /uploads/{id}`` (the image, to its owner only).

The body is read within ``MAX_UPLOAD_BYTES`` (and a little for the form around it) before it is
parsed, so a large or endless body costs nothing but the limit; Starlette's form parser then
reads it from memory. A cross-site form can post multipart without asking first: the guard's
Origin check (403) is what keeps another site from uploading into a visitor's account.
What an image must be is the domain's business (gateway.turns.uploads).
"""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.api.body import read_limited
from gateway.api.errors import HttpError, not_found
from gateway.api.guard import owner_of
from gateway.runtime import runtime
from gateway.turns.uploads import get_upload, store_upload

FORM_OVERHEAD = 64 * 1024  # the multipart boundaries and part headers around the image
UPLOAD_ID_CHARS = 22  # secrets.token_urlsafe(16)


async def create_upload(request: Request) -> Response:
    gateway = runtime(request)
    limit = gateway.settings.max_upload_bytes
    declared = request.headers.get("content-type", "")
    if declared.split(";")[0].strip().lower() != "multipart/form-data":
        raise HttpError(
            415,
            "an upload is multipart/form-data, with the image in the field `file`",
            type="unsupported_media_type",
        )
    body = await read_limited(request, limit + FORM_OVERHEAD)
    image, content_type = await form_file(request, body)
    if len(image) > limit:
        raise HttpError(413, f"the image is larger than {limit} bytes", type="too_large")
    upload = await store_upload(gateway.pool, owner_of(request), image, content_type, limit)
    return JSONResponse(
        upload.as_dict(), status_code=201, headers={"Location": f"/api/v1/uploads/{upload.id}"}
    )


async def form_file(request: Request, body: bytes) -> tuple[bytes, str | None]:
    """The one file of the form, read from ``body``, and its declared type."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        async with Request(request.scope, replay).form(max_files=1, max_fields=10) as form:
            file = form.get("file")
            if not isinstance(file, UploadFile):
                raise HttpError(422, "the image goes in the form field `file`", type="no_file")
            return await file.read(), file.content_type
    except (MultiPartException, HTTPException) as error:
        # Inside an app, Starlette says what is wrong with a form as an HTTPException(400).
        detail = str(getattr(error, "message", None) or getattr(error, "detail", ""))
        if "Too many files" in detail:
            raise HttpError(422, "one image per upload", type="too_many_files") from None
        raise HttpError(400, f"a malformed form: {detail[:200]}", type="malformed_form") from None


async def read_upload(request: Request) -> Response:
    upload_id = request.path_params["upload_id"]
    if len(upload_id) != UPLOAD_ID_CHARS:
        raise not_found("upload")
    upload, data = await get_upload(runtime(request).pool, upload_id, owner_of(request))
    etag = f'"{upload.sha256}"'
    headers = {
        "ETag": etag,
        # The owner's alone: never kept by a shared cache; its bytes never change.
        "Cache-Control": "private, max-age=31536000, immutable",
        "Content-Disposition": "inline",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=upload.media_type, headers=headers)
