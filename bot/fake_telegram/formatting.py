"""Telegram's parse_mode handling: HTML, MarkdownV2 and legacy Markdown to text + entities.

Telegram rejects malformed markup with 400 "Bad Request: can't parse entities: ...", a
common production bug (an unescaped "<" or "."), so the fake parses as strictly as Telegram.
Offsets and lengths are in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import html
import re
from typing import Any


class EntityParseError(ValueError):
    """Markup Telegram would refuse; str(exc) is the text after "can't parse entities: "."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram trims leading/trailing whitespace of texts and captions; entities follow."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def parse(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities for `text` under `parse_mode` (None: no parsing)."""
    if not parse_mode:
        return text, []
    mode = parse_mode.lower()
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    raise EntityParseError(f"Unsupported parse_mode {parse_mode!r}")


class _Builder:
    """Accumulates plain text and open/closed entities while a parser scans its source."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0  # UTF-16 length of the text so far
        self.entities: list[dict[str, Any]] = []

    def add(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.length += utf16_len(chunk)

    def close(self, etype: str, start: int, *, end: int | None = None, **extra: Any) -> None:
        end = self.length if end is None else end
        if end > start:  # Telegram drops empty entities silently
            entity = {"type": etype, "offset": start, "length": end - start}
            entity.update({k: v for k, v in extra.items() if v is not None})
            self.entities.append(entity)

    def result(self) -> tuple[str, list[dict[str, Any]]]:
        ents = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), ents


# -- HTML ------------------------------------------------------------------------------------
_HTML_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "a": "text_link",
    "span": "spoiler",
    "tg-emoji": "custom_emoji",
}
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^>]*)?)\s*(/?)>")
_ATTR_RE = re.compile(r"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_ENTITY_RE = re.compile(r"&(#[0-9]+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    out = _Builder()
    stack: list[tuple[str, int, dict[str, str]]] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "&":
            m = _ENTITY_RE.match(source, i)
            name = m.group(1) if m else ""
            if m and (name.startswith("#") or name in ("lt", "gt", "amp", "quot")):
                out.add(html.unescape(m.group(0)))
                i = m.end()
            else:  # unsupported entity names are kept literally, like Telegram does
                out.add("&")
                i += 1
            continue
        if ch != "<":
            j = i
            while j < len(source) and source[j] not in "<&":
                j += 1
            out.add(source[i:j])
            i = j
            continue
        m = _TAG_RE.match(source, i)
        offset = _byte_offset(source, i)
        if not m:
            raise EntityParseError(
                f'Unsupported start tag "{source[i + 1 : i + 8].split(" ")[0]}" '
                f"at byte offset {offset}"
            )
        closing, tag, attr_text = m.group(1) == "/", m.group(2).lower(), m.group(3)
        if tag not in _HTML_SIMPLE:
            kind = "end" if closing else "start"
            raise EntityParseError(f'Unsupported {kind} tag "{tag}" at byte offset {offset}')
        if closing:
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {offset}")
            open_tag, start, attrs = stack.pop()
            if open_tag != tag:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {offset}, expected "</{open_tag}>", '
                    f'found "</{tag}>"'
                )
            _close_html(out, stack, open_tag, start, attrs)
        else:
            attrs = {
                a.group(1).lower(): html.unescape(a.group(2) or a.group(3) or a.group(4) or "")
                for a in _ATTR_RE.finditer(attr_text)
            }
            if tag == "span" and attrs.get("class") != "tg-spoiler":
                raise EntityParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {offset}'
                )
            stack.append((tag, out.length, attrs))
        i = m.end()
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


def _close_html(
    out: _Builder,
    stack: list[tuple[str, int, dict[str, str]]],
    tag: str,
    start: int,
    attrs: dict[str, str],
) -> None:
    etype = _HTML_SIMPLE[tag]
    if tag == "a":
        href = attrs.get("href", "")
        user_id = re.fullmatch(r"tg://user\?id=(\d+)", href)
        if user_id:
            out.close(
                "text_mention",
                start,
                user={"id": int(user_id.group(1)), "is_bot": False, "first_name": ""},
            )
        else:
            out.close("text_link", start, url=href)
    elif tag == "code" and stack and stack[-1][0] == "pre":
        # <pre><code class="language-x"> is one pre entity with a language
        lang = attrs.get("class", "")
        if lang.startswith("language-"):
            stack[-1][2]["language"] = lang[len("language-") :]
        else:
            out.close("code", start)
    elif tag == "pre":
        out.close("pre", start, language=attrs.get("language"))
    elif tag == "blockquote":
        out.close("expandable_blockquote" if "expandable" in attrs else "blockquote", start)
    elif tag == "tg-emoji":
        out.close("custom_emoji", start, custom_emoji_id=attrs.get("emoji-id"))
    else:
        out.close(etype, start)


# -- MarkdownV2 ------------------------------------------------------------------------------
_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "*": "Bold",
    "_": "Italic",
    "__": "Underline",
    "~": "Strikethrough",
    "||": "Spoiler",
}
_MDV2_TYPES = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
}


def parse_markdown_v2(source: str) -> tuple[str, list[dict[str, Any]]]:
    out = _Builder()
    stack: list[tuple[str, int, int]] = []  # (marker, text offset, source index)
    quote_start: int | None = None
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        at_line_start = i == 0 or source[i - 1] == "\n"
        if ch == "\\":
            if i + 1 < n and 0 < ord(source[i + 1]) < 127:
                out.add(source[i + 1])
                i += 2
                continue
            raise EntityParseError(
                "Character '\\' is reserved and must be escaped with the preceding '\\'"
            )
        if at_line_start and quote_start is not None and ch != ">":
            out.close("blockquote", quote_start, end=out.length - 1)  # not the line break
            quote_start = None
        if ch == ">" and at_line_start:
            if quote_start is None:
                quote_start = out.length
            i += 1
            continue
        if ch == "`":
            i = _mdv2_code(source, i, out)
            continue
        marker = source[i : i + 2] if source[i : i + 2] in ("__", "||") else ch
        if marker in _MDV2_TYPES:
            if stack and stack[-1][0] == marker:
                _, start, _ = stack.pop()
                out.close(_MDV2_TYPES[marker], start)
            elif any(m == marker for m, _, _ in stack):
                raise EntityParseError(
                    f"Can't find end of {_MDV2_NAMES[stack[-1][0]]} entity at byte offset "
                    f"{_byte_offset(source, stack[-1][2])}"
                )
            else:
                stack.append((marker, out.length, i))
            i += len(marker)
            continue
        if ch == "[":
            stack.append(("[", out.length, i))
            i += 1
            continue
        if ch == "]" and stack and stack[-1][0] == "[":
            _, start, src = stack.pop()
            if source[i + 1 : i + 2] != "(":
                raise EntityParseError(
                    f"Can't find end of a URL at byte offset {_byte_offset(source, src)}"
                )
            j = i + 2
            url_chars: list[str] = []
            while j < n and source[j] != ")":
                if source[j] == "\\" and j + 1 < n:
                    j += 1
                url_chars.append(source[j])
                j += 1
            if j >= n:
                raise EntityParseError(
                    f"Can't find end of a URL at byte offset {_byte_offset(source, src)}"
                )
            out.close("text_link", start, url="".join(url_chars))
            i = j + 1
            continue
        if ch in _MDV2_RESERVED:
            raise EntityParseError(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        out.add(ch)
        i += 1
    if stack:
        marker, _, src = stack[-1]
        name = "TextUrl" if marker == "[" else _MDV2_NAMES[marker]
        raise EntityParseError(
            f"Can't find end of {name} entity at byte offset {_byte_offset(source, src)}"
        )
    if quote_start is not None:
        out.close("blockquote", quote_start)
    return out.result()


def _mdv2_code(source: str, i: int, out: _Builder) -> int:
    """Parse `code` or ```pre``` starting at i; return the index after it."""
    fence = "```" if source.startswith("```", i) else "`"
    j = i + len(fence)
    language = None
    if fence == "```":
        newline = source.find("\n", j)
        first_line = source[j:newline] if newline != -1 else ""
        if newline != -1 and first_line and " " not in first_line:
            language, j = first_line, newline + 1
    start = out.length
    chars: list[str] = []
    while j < len(source) and not source.startswith(fence, j):
        if source[j] == "\\" and j + 1 < len(source) and source[j + 1] in "`\\":
            j += 1
        chars.append(source[j])
        j += 1
    if j >= len(source):
        name = "Pre" if fence == "```" else "Code"
        raise EntityParseError(
            f"Can't find end of {name} entity at byte offset {_byte_offset(source, i)}"
        )
    out.add("".join(chars))
    if fence == "```":
        out.close("pre", start, language=language)
    else:
        out.close("code", start)
    return j + len(fence)


# -- legacy Markdown -------------------------------------------------------------------------
_MD_TYPES = {"*": "bold", "_": "italic"}


def parse_markdown(source: str) -> tuple[str, list[dict[str, Any]]]:
    out = _Builder()
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch == "\\" and i + 1 < n and source[i + 1] in "_*`[":
            out.add(source[i + 1])
            i += 2
            continue
        if ch in _MD_TYPES or ch == "`":
            fence = "```" if source.startswith("```", i) else ch
            end = source.find(fence, i + len(fence))
            if end == -1:
                raise EntityParseError(
                    "Can't find end of the entity starting at byte offset "
                    f"{_byte_offset(source, i)}"
                )
            start = out.length
            out.add(source[i + len(fence) : end])
            etype = "pre" if fence == "```" else "code" if fence == "`" else _MD_TYPES[ch]
            out.close(etype, start)
            i = end + len(fence)
            continue
        if ch == "[":
            m = re.compile(r"\[([^\]]*)\]\(([^)]*)\)").match(source, i)
            if m:
                start = out.length
                out.add(m.group(1))
                out.close("text_link", start, url=m.group(2))
                i = m.end()
                continue
        out.add(ch)
        i += 1
    return out.result()
