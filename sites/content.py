"""Page content: a list of typed blocks, checked and cleaned at save time.

Block types (every block has an ``id``; one is assigned when missing):

============  ======================================================
``heading``   ``text``, ``level`` 1-6
``text``      ``text`` (plain; escaped when rendered)
``rich_text`` ``html`` — sanitized with ``nh3`` **here, at save**, so what is
              stored (and later published) is already safe to render
``image``     ``src`` (http(s) URL or a path), ``alt``
``button``    ``label``, ``href`` (http(s), mailto, a path or ``#anchor``)
``columns``   ``columns``: 1-4 lists of blocks (no columns inside columns)
``embed``     ``component`` or ``section`` (an id): inlined at publish
============  ======================================================

At publish, :func:`inline` replaces every embed by a copy of the component's
or section's blocks (``blocks``), so a published version never changes when
the component is edited later.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import nh3

from config.errors import Invalid

MAX_BLOCKS = 500
MAX_CONTENT_BYTES = 512 * 1024
MAX_TEXT = 20_000
TYPES = ("heading", "text", "rich_text", "image", "button", "columns", "embed")
_SAFE_URL = re.compile(r"^(https?://|mailto:|/|#)", re.IGNORECASE)
_BLOCK_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _fail(index: str, message: str) -> Invalid:
    return Invalid("The content is not valid.", details={"content": [f"block {index}: {message}"]})


def _text(block: dict[str, Any], key: str, index: str, *, required: bool = True) -> str:
    value = block.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > MAX_TEXT:
        raise _fail(index, f"`{key}` must be a non-empty string of at most {MAX_TEXT} characters")
    return value


def _url(block: dict[str, Any], key: str, index: str) -> str:
    value = _text(block, key, index)
    if not _SAFE_URL.match(value.strip()):
        raise _fail(index, f"`{key}` must be an http(s) URL, a path or an anchor")
    return value.strip()


def _clean_block(
    block: Any, index: str, *, allow_embed: bool, allow_columns: bool, counter: list[int]
) -> dict[str, Any]:
    counter[0] += 1
    if counter[0] > MAX_BLOCKS:
        raise _fail(index, f"a page holds at most {MAX_BLOCKS} blocks")
    if not isinstance(block, dict):
        raise _fail(index, "a block is an object")
    kind = block.get("type")
    if kind not in TYPES:
        raise _fail(index, f"`type` must be one of {', '.join(TYPES)}")
    block_id = block.get("id") or uuid.uuid4().hex[:12]
    if not isinstance(block_id, str) or not _BLOCK_ID.match(block_id):
        raise _fail(index, "`id` is letters, digits, - and _ (at most 64)")
    out: dict[str, Any] = {"id": block_id, "type": kind}
    if kind == "heading":
        level = block.get("level", 2)
        if not isinstance(level, int) or not 1 <= level <= 6:
            raise _fail(index, "`level` is 1-6")
        out |= {"text": _text(block, "text", index), "level": level}
    elif kind == "text":
        out["text"] = _text(block, "text", index)
    elif kind == "rich_text":
        # SECURITY: user HTML is sanitized once, at save; the renderer trusts it.
        out["html"] = nh3.clean(_text(block, "html", index))
    elif kind == "image":
        out |= {"src": _url(block, "src", index), "alt": _text(block, "alt", index, required=False)}
    elif kind == "button":
        out |= {"label": _text(block, "label", index), "href": _url(block, "href", index)}
    elif kind == "columns":
        if not allow_columns:
            raise _fail(index, "columns cannot be nested")
        columns = block.get("columns")
        if not isinstance(columns, list) or not 1 <= len(columns) <= 4:
            raise _fail(index, "`columns` is a list of 1-4 lists of blocks")
        out["columns"] = [
            _clean_list(
                column,
                f"{index}.{n}",
                allow_embed=allow_embed,
                allow_columns=False,
                counter=counter,
            )
            for n, column in enumerate(columns)
        ]
    elif kind == "embed":
        if not allow_embed:
            raise _fail(index, "components and sections cannot embed others")
        refs = [key for key in ("component", "section") if block.get(key)]
        if len(refs) != 1:
            raise _fail(index, "an embed names exactly one `component` or `section`")
        try:
            out[refs[0]] = str(uuid.UUID(str(block[refs[0]])))
        except ValueError as exc:
            raise _fail(index, f"`{refs[0]}` is not an id") from exc
    return out


def _clean_list(
    blocks: Any, index: str, *, allow_embed: bool, allow_columns: bool, counter: list[int]
) -> list[dict[str, Any]]:
    if not isinstance(blocks, list):
        raise _fail(index or "list", "content is a list of blocks")
    return [
        _clean_block(
            block,
            f"{index}.{n}" if index else str(n),
            allow_embed=allow_embed,
            allow_columns=allow_columns,
            counter=counter,
        )
        for n, block in enumerate(blocks)
    ]


def clean(blocks: Any, *, allow_embed: bool = True) -> list[dict[str, Any]]:
    """The blocks, checked and normalised (ids assigned, rich text sanitized), or 400."""
    cleaned = _clean_list(blocks, "", allow_embed=allow_embed, allow_columns=True, counter=[0])
    if len(canonical(cleaned)) > MAX_CONTENT_BYTES:
        raise Invalid(
            "The content is too large.",
            details={"content": [f"At most {MAX_CONTENT_BYTES} bytes of content."]},
        )
    return cleaned


def embedded_ids(blocks: list[dict[str, Any]]) -> dict[str, set[str]]:
    """The component and section ids the blocks embed (columns included)."""
    found: dict[str, set[str]] = {"component": set(), "section": set()}
    for block in blocks:
        if block["type"] == "embed":
            for kind in found:
                if block.get(kind):
                    found[kind].add(block[kind])
        elif block["type"] == "columns":
            for column in block["columns"]:
                for kind, ids in embedded_ids(column).items():
                    found[kind] |= ids
    return found


def inline(
    blocks: list[dict[str, Any]], resolve: Callable[[str, str], tuple[str, list[Any]] | None]
) -> list[dict[str, Any]]:
    """A copy of ``blocks`` with each embed carrying its source's blocks.

    ``resolve(kind, id)`` answers ``(name, blocks)`` or ``None`` (unknown or not
    visible: a 400, publishing does not skip content silently)."""
    out = []
    for block in blocks:
        if block["type"] == "embed":
            kind = "component" if block.get("component") else "section"
            found = resolve(kind, block[kind])
            if found is None:
                raise Invalid(
                    "The page embeds something that does not exist.",
                    details={"content": [f"{kind} {block[kind]} was not found"]},
                )
            name, source_blocks = found
            block = {**block, "name": name, "blocks": source_blocks}
        elif block["type"] == "columns":
            block = {**block, "columns": [inline(column, resolve) for column in block["columns"]]}
        out.append(block)
    return out


def uninline(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reverse of :func:`inline`: embeds back to references (reverting to a version)."""
    out = []
    for block in blocks:
        if block["type"] == "embed":
            block = {k: v for k, v in block.items() if k not in ("name", "blocks")}
        elif block["type"] == "columns":
            block = {**block, "columns": [uninline(column) for column in block["columns"]]}
        out.append(block)
    return out


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_of(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


SEO_KEYS = {"description": 300, "og_title": 200, "og_image": 500, "canonical_url": 500}


def clean_seo(seo: Any) -> dict[str, Any]:
    """SEO fields: ``description``, ``og_title``, ``og_image``, ``canonical_url``, ``noindex``."""
    if not isinstance(seo, dict):
        raise Invalid("SEO fields are an object.", details={"seo": ["An object."]})
    out: dict[str, Any] = {}
    for key, value in seo.items():
        if key == "noindex":
            if not isinstance(value, bool):
                raise Invalid("Invalid SEO field.", details={"seo": ["`noindex` is a boolean."]})
            out[key] = value
        elif key in SEO_KEYS:
            if not isinstance(value, str) or len(value) > SEO_KEYS[key]:
                raise Invalid(
                    "Invalid SEO field.",
                    details={"seo": [f"`{key}` is a string of at most {SEO_KEYS[key]}."]},
                )
            out[key] = value
        else:
            raise Invalid("Unknown SEO field.", details={"seo": [f"`{key}` is not known."]})
    return out


def normalize_path(path: str) -> str:
    """``about/team/`` -> ``/about/team``; the root is ``/``. Lower-case letters, digits,
    ``-``, ``_`` and ``.`` per segment."""
    if not isinstance(path, str):
        raise Invalid("Invalid path.", details={"path": ["A string."]})
    segments = [s for s in path.strip().split("/") if s]
    for segment in segments:
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,79}", segment) or segment in (".", ".."):
            raise Invalid(
                "Invalid path.",
                details={"path": ["Lower-case letters, digits, '-', '_' and '.' per segment."]},
            )
    normalized = "/" + "/".join(segments)
    if len(normalized) > 300:
        raise Invalid("Invalid path.", details={"path": ["At most 300 characters."]})
    return normalized
