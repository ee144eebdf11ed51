"""Baseline (a), the practical floor: a bare WSGI app serving the W1-W3 routes.

It does what the platform does per request, with nothing else: verifies the
HS256 JWT (same key, same claims: ``token_type``, ``exp``, ``sub``, ``sid``),
then, as the **app role** (RLS applies) and in one transaction, runs the same
statements as the Django endpoint in the same order:

    BEGIN
    SELECT ... FROM accounts_session JOIN accounts_user ...   -- the open session
    SELECT ... FROM app.enter_org(user, slug)                  -- claims + role
    SELECT ... FROM projects_project ...                       -- the work
    COMMIT

and answers the same JSON (same fields, ``my_role``, ``favorite``, a cursor
``next`` link) rendered with orjson. Plain psycopg 3 with its defaults, one
connection per gunicorn worker (psycopg prepares a statement after five
executions: ``FLOOR_PREPARE_THRESHOLD=none`` turns that off). Under a threaded server
(gunicorn gthread, granian) each thread has its own connection, as Django's do.

``GET /ping`` answers a constant without touching the database (W0: the
HTTP server + load generator floor).

Environment: ``FLOOR_DATABASE_URL`` (the app role), ``JWT_SIGNING_KEY``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson
import psycopg

StartResponse = Callable[[str, list[tuple[str, str]]], Any]

_KEY = os.environ.get("JWT_SIGNING_KEY", "").encode()
_DSN = os.environ.get("FLOOR_DATABASE_URL", "")
_PREPARE = os.environ.get("FLOOR_PREPARE_THRESHOLD", "5")
_JWT_HEAD = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
_PAGE_SIZE = 25
_MAX_PAGE_SIZE = 100
_SLUG = re.compile(r"[^a-z0-9]+")
_ROUTE = re.compile(r"^/api/v1/orgs/([-a-zA-Z0-9_]+)/projects/(?:([-a-zA-Z0-9_]+)/)?$")

SESSION_SQL = """
SELECT u.id, u.email, u.is_active
  FROM accounts_session s JOIN accounts_user u ON u.id = s.user_id
 WHERE s.expires_at > now() AND s.id = %s AND s.revoked_at IS NULL AND s.user_id = %s
"""
ENTER_ORG_SQL = "SELECT organization_id, role, suspended FROM app.enter_org(%s::uuid, %s)"
_PROJECT_COLUMNS = """
SELECT p.id, p.name, p.slug, p.description, p.tags, p.visibility, p.settings,
       p.archived_at, p.created_at, p.updated_at,
       (SELECT pm.role FROM projects_projectmember pm
         WHERE pm.organization_id = p.organization_id AND pm.project_id = p.id
           AND pm.user_id = %(user)s LIMIT 1) AS my_override,
       EXISTS (SELECT 1 FROM projects_favorite f
                WHERE f.organization_id = p.organization_id AND f.project_id = p.id
                  AND f.user_id = %(user)s) AS is_favorite,
       u.id, u.email, u.name
  FROM projects_project p LEFT JOIN accounts_user u ON u.id = p.created_by_id
"""
LIST_SQL = (
    _PROJECT_COLUMNS
    + """ WHERE p.organization_id = %(org)s AND p.archived_at IS NULL
 ORDER BY p.created_at DESC, p.id DESC LIMIT %(limit)s"""
)
DETAIL_SQL = _PROJECT_COLUMNS + " WHERE p.organization_id = %(org)s AND p.slug = %(slug)s LIMIT 1"
INSERT_PROJECT_SQL = """
INSERT INTO projects_project (id, organization_id, created_at, name, slug, description, tags,
                              visibility, settings, archived_at, created_by_id, updated_at)
VALUES (%(id)s, %(org)s, %(now)s, %(name)s, %(slug)s, '', '{}', 'org', '{}', NULL, %(user)s,
        %(now)s)
"""
INSERT_AUDIT_SQL = """
INSERT INTO audit_auditevent (id, organization_id, sequence, action, actor_type, actor_id,
    actor_label, target_type, target_id, changes, ip_address, user_agent, request_id,
    created_at, prev_hash, hash)
VALUES (%(id)s, %(org)s, 0, 'project.created', 'user', %(user)s, %(email)s,
        'projects.project', %(target)s, %(changes)s, %(ip)s, %(agent)s, %(request_id)s,
        now(), '', '')
"""

_local = threading.local()


def connection() -> psycopg.Connection:
    """One connection per worker thread (per process under sync workers), opened on first
    use (after the server's fork); a threaded server must not share one transaction."""
    conn: psycopg.Connection | None = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = psycopg.connect(_DSN, autocommit=True)
        conn.prepare_threshold = None if _PREPARE == "none" else int(_PREPARE)
        _local.conn = conn
    return conn


# --- HTTP helpers ---------------------------------------------------------------


class HttpError(Exception):
    def __init__(self, status: str, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json(start_response: StartResponse, status: str, body: Any) -> Iterable[bytes]:
    data = orjson.dumps(body, option=orjson.OPT_UTC_Z)
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def _b64decode(part: bytes) -> bytes:
    return base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))


def verify_access_token(authorization: str) -> dict[str, Any]:
    """The claims of a valid, unexpired HS256 access token, else 401."""
    if not authorization.startswith("Bearer "):
        raise HttpError("401 Unauthorized", "not_authenticated", "Authentication required.")
    try:
        head, body, signature = authorization[7:].encode().split(b".")
        expected = hmac.new(_KEY, head + b"." + body, hashlib.sha256).digest()
        if head != _JWT_HEAD or not hmac.compare_digest(expected, _b64decode(signature)):
            raise ValueError("bad signature")
        claims = orjson.loads(_b64decode(body))
    except ValueError as exc:
        raise HttpError("401 Unauthorized", "token_not_valid", "Invalid token.") from exc
    if claims.get("token_type") != "access" or claims.get("exp", 0) <= time.time():
        raise HttpError("401 Unauthorized", "token_not_valid", "Invalid token.")
    return claims


def project_role(org_role: str, override: str | None, private: bool) -> str | None:
    """Same rule as ``organizations.permissions.project_role``."""
    if org_role in ("owner", "admin"):
        return "manager"
    if override:
        return override
    if private:
        return None
    return "editor" if org_role == "member" else "viewer"


def _project(row: tuple[Any, ...], org_role: str) -> dict[str, Any] | None:
    (
        pid,
        name,
        slug,
        description,
        tags,
        visibility,
        settings,
        archived_at,
        created_at,
        updated_at,
        override,
        favorite,
        uid,
        email,
        uname,
    ) = row
    role = project_role(org_role, override, visibility == "private")
    if role is None:
        return None
    return {
        "id": pid,
        "name": name,
        "slug": slug,
        "description": description,
        "tags": tags,
        "visibility": visibility,
        "settings": settings,
        "archived": archived_at is not None,
        "archived_at": archived_at,
        "favorite": favorite,
        "my_role": role,
        "created_by": {"id": uid, "email": email, "name": uname} if uid else None,
        "created_at": created_at,
        "updated_at": updated_at,
    }


# --- the routes ---------------------------------------------------------------


def _enter(cur: psycopg.Cursor, claims: dict[str, Any], org_slug: str) -> tuple[Any, ...]:
    """The session's user (401 if the session ended) and their membership (404 if none)."""
    user = cur.execute(SESSION_SQL, (claims.get("sid"), claims.get("sub"))).fetchone()
    if user is None or not user[2]:
        raise HttpError("401 Unauthorized", "session_ended", "The session has ended.")
    org = cur.execute(ENTER_ORG_SQL, (user[0], org_slug)).fetchone()
    if org is None:
        raise HttpError("404 Not Found", "not_found", "Not found.")
    return user, org


def project_list(
    cur: psycopg.Cursor, claims: dict[str, Any], org_slug: str, environ: dict[str, Any]
) -> tuple[str, Any]:
    query = parse_qs(environ.get("QUERY_STRING", ""))
    try:
        size = int(query.get("page_size", [_PAGE_SIZE])[0])
    except ValueError:
        size = 0
    if not 1 <= size <= _MAX_PAGE_SIZE:
        raise HttpError("400 Bad Request", "invalid", "page_size out of range.")
    user, (org_id, role, _suspended) = _enter(cur, claims, org_slug)
    rows = cur.execute(LIST_SQL, {"user": user[0], "org": org_id, "limit": size + 1}).fetchall()
    results = [p for row in rows[:size] if (p := _project(row, role)) is not None]
    next_link = None
    if len(rows) > size and results:
        position = base64.b64encode(
            urlencode({"p": results[-1]["created_at"].isoformat()}).encode()
        ).decode()
        host = environ.get("HTTP_HOST", "127.0.0.1")
        query_string = urlencode({"cursor": position, "page_size": size})
        next_link = f"http://{host}{environ['PATH_INFO']}?{query_string}"
    return "200 OK", {"next": next_link, "previous": None, "results": results}


def project_detail(
    cur: psycopg.Cursor, claims: dict[str, Any], org_slug: str, slug: str
) -> tuple[str, Any]:
    user, (org_id, role, _suspended) = _enter(cur, claims, org_slug)
    row = cur.execute(DETAIL_SQL, {"user": user[0], "org": org_id, "slug": slug}).fetchone()
    project = _project(row, role) if row else None
    if project is None:
        raise HttpError("404 Not Found", "not_found", "Not found.")
    return "200 OK", project


def project_create(
    cur: psycopg.Cursor, claims: dict[str, Any], org_slug: str, environ: dict[str, Any]
) -> tuple[str, Any]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    try:
        data = orjson.loads(environ["wsgi.input"].read(length))
        name = data["name"]
        if not isinstance(name, str) or not 0 < len(name) <= 120:
            raise ValueError("name")
    except (ValueError, KeyError, TypeError) as exc:
        raise HttpError("400 Bad Request", "invalid", "Invalid input.") from exc
    slug = _SLUG.sub("-", str(data.get("slug") or name).lower()).strip("-")[:60]
    user, (org_id, role, suspended) = _enter(cur, claims, org_slug)
    if role not in ("owner", "admin", "member") or suspended:
        raise HttpError("403 Forbidden", "permission_denied", "Not allowed.")
    project_id = uuid.uuid4()
    now = datetime.now(UTC)  # like Django's auto_now_add: the app's clock
    params = {"id": project_id, "org": org_id, "name": name, "slug": slug, "user": user[0]}
    params["now"] = now
    try:
        cur.execute(INSERT_PROJECT_SQL, params)
    except psycopg.errors.UniqueViolation as exc:
        raise HttpError("409 Conflict", "slug_taken", "Slug taken.") from exc
    cur.execute(
        INSERT_AUDIT_SQL,
        {
            "id": uuid.uuid4(),
            "org": org_id,
            "user": user[0],
            "email": user[1],
            "target": str(project_id),
            "changes": orjson.dumps({"name": name, "slug": slug, "visibility": "org"}).decode(),
            "ip": environ.get("REMOTE_ADDR"),
            "agent": environ.get("HTTP_USER_AGENT", "")[:300],
            "request_id": uuid.uuid4().hex,
        },
    )
    body = {
        "id": project_id,
        "name": name,
        "slug": slug,
        "description": "",
        "tags": [],
        "visibility": "org",
        "settings": {},
        "archived": False,
        "archived_at": None,
        "favorite": False,
        "my_role": project_role(role, None, False),
        "created_by": {"id": user[0], "email": user[1]},
        "created_at": now,
        "updated_at": now,
    }
    return "201 Created", body


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path == "/ping":
        return _json(start_response, "200 OK", {"status": "ok"})
    match = _ROUTE.match(path)
    method = environ["REQUEST_METHOD"]
    try:
        if match is None:
            raise HttpError("404 Not Found", "not_found", "Not found.")
        org_slug, slug = match.groups()
        claims = verify_access_token(environ.get("HTTP_AUTHORIZATION", ""))
        conn = connection()
        with conn.transaction(), conn.cursor() as cur:
            if slug is None and method == "GET":
                status, body = project_list(cur, claims, org_slug, environ)
            elif slug is None and method == "POST":
                status, body = project_create(cur, claims, org_slug, environ)
            elif method == "GET":
                status, body = project_detail(cur, claims, org_slug, slug)
            else:
                raise HttpError("405 Method Not Allowed", "method_not_allowed", method)
    except HttpError as exc:
        body = {"error": {"code": exc.code, "message": exc.message, "details": {}}}
        return _json(start_response, exc.status, body)
    return _json(start_response, status, body)
