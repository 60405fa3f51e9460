"""XML-RPC's wire format, for the few types `run` exchanges with supervisord.

Ours rather than `xmlrpc.client`'s: that module imports `http.client`, which imports
`ssl`, and OpenSSL costs `run` ~4 MiB of RSS for a unix socket that never needs it.
Only `xml.parsers.expat` is loaded here. `xmlrpc.client` stays the reference: the tests
check this codec against it.
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from typing import Any
from xml.parsers import expat

# XML-RPC's <int> is 32 bits; supervisord rejects nothing else, but its parser knows no <i8>.
MAX_INT = 2**31 - 1
MIN_INT = -(2**31)

_INTEGER_TAGS = frozenset({"int", "i1", "i2", "i4", "i8", "biginteger"})


class Fault(Exception):
    """The server's <fault>: the call reached it and it refused."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text


class WireError(ValueError):
    """A response that is not XML-RPC, or not whole."""


def encode_call(method: str, params: Sequence[Any]) -> bytes:
    """A <methodCall> of `method` with `params`: str, int, bool, float, lists and str-keyed dicts of them."""
    parts = ["<?xml version='1.0'?>\n<methodCall>\n<methodName>", _escape(method), "</methodName>\n<params>\n"]
    for param in params:
        parts.append("<param>\n")
        _encode(param, parts)
        parts.append("</param>\n")
    parts.append("</params>\n</methodCall>\n")
    return "".join(parts).encode()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _encode(value: Any, parts: list[str]) -> None:
    if isinstance(value, bool):  # before int: bool is an int
        parts.append(f"<value><boolean>{int(value)}</boolean></value>\n")
    elif isinstance(value, int):
        if not MIN_INT <= value <= MAX_INT:
            raise OverflowError(f"int exceeds XML-RPC limits: {value}")
        parts.append(f"<value><int>{value}</int></value>\n")
    elif isinstance(value, float):
        parts.append(f"<value><double>{value!r}</double></value>\n")
    elif isinstance(value, str):
        parts.append(f"<value><string>{_escape(value)}</string></value>\n")
    elif isinstance(value, (list, tuple)):
        parts.append("<value><array><data>\n")
        for item in value:
            _encode(item, parts)
        parts.append("</data></array></value>\n")
    elif isinstance(value, dict):
        parts.append("<value><struct>\n")
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"struct keys must be strings, not {type(key).__name__}")
            parts.append(f"<member>\n<name>{_escape(key)}</name>\n")
            _encode(item, parts)
            parts.append("</member>\n")
        parts.append("</struct></value>\n")
    else:
        raise TypeError(f"cannot send a {type(value).__name__} over XML-RPC")


def decode_response(body: bytes) -> Any:
    """The value of a <methodResponse>; Fault for a <fault>, WireError for anything that is not a whole response."""
    reader = _ResponseReader()
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    try:
        parser.Parse(body, True)
    except expat.ExpatError as error:
        raise WireError(f"malformed XML-RPC response: {error}") from error
    return reader.result()


class _ResponseReader:
    """Expat's callbacks: values build up on a stack; an <array> or <struct> collects what its start left above it."""

    def __init__(self) -> None:
        self._stack: list[Any] = []
        self._marks: list[int] = []
        self._text: list[str] = []
        self._untyped = False  # inside a <value> with no type element yet: its text is a string
        self._kind: str | None = None  # "params" or "fault", once the response says which
        self._closed = False

    def start(self, tag: str, _attributes: dict[str, str]) -> None:
        if tag in ("array", "struct"):
            self._marks.append(len(self._stack))
        elif tag in ("params", "fault") and self._kind is None:
            self._kind = tag
        self._untyped = tag == "value"
        self._text = []

    def text(self, data: str) -> None:
        self._text.append(data)

    def end(self, tag: str) -> None:
        text = "".join(self._text)
        self._text = []
        try:
            self._end(tag, text)
        except (ValueError, TypeError, IndexError, binascii.Error) as error:
            raise WireError(f"malformed XML-RPC response: <{tag}>: {error}") from error

    def _end(self, tag: str, text: str) -> None:
        if tag == "value":
            if self._untyped:  # <value>text</value> is a string
                self._stack.append(text)
            self._untyped = False
            return
        if tag in ("array", "struct"):
            mark = self._marks.pop()
            items = self._stack[mark:]
            del self._stack[mark:]
            self._stack.append(items if tag == "array" else _struct(items))
        elif tag == "methodResponse":
            self._closed = True
            return
        elif tag in _INTEGER_TAGS:
            self._stack.append(int(text))
        elif tag == "boolean":
            self._stack.append(_boolean(text))
        elif tag in ("string", "name"):
            self._stack.append(text)
        elif tag in ("double", "float"):
            self._stack.append(float(text))
        elif tag == "nil":
            self._stack.append(None)
        elif tag == "base64":
            self._stack.append(binascii.a2b_base64(text.encode("ascii")))
        elif tag not in ("data", "member", "param", "params", "fault"):
            raise ValueError("not an XML-RPC element")
        self._untyped = False

    def result(self) -> Any:
        if not self._closed or self._marks:
            raise WireError("malformed XML-RPC response: not a whole <methodResponse>")
        if self._kind == "fault" and len(self._stack) == 1:
            return _raise_fault(self._stack[0])
        if self._kind == "params" and len(self._stack) == 1:
            return self._stack[0]
        raise WireError(f"malformed XML-RPC response: {len(self._stack)} values in its <{self._kind}>")


def _struct(items: list[Any]) -> dict[str, Any]:
    names, values = items[::2], items[1::2]
    if len(names) != len(values) or not all(isinstance(name, str) for name in names):
        raise ValueError("members must each be a <name> and a <value>")
    return dict(zip(names, values, strict=True))


def _boolean(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError(f"bad boolean {text!r}")
    return text == "1"


def _raise_fault(value: Any) -> Any:
    if not isinstance(value, dict) or not isinstance(value.get("faultCode"), int):
        raise WireError(f"malformed XML-RPC fault: {value!r}")
    raise Fault(value["faultCode"], str(value.get("faultString", "")))
