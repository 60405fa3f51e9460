"""Our XML-RPC codec against the standard library's (the reference) and supervisord's own request parser."""

from __future__ import annotations

import xmlrpc.client
from typing import Any

import pytest
from supervisor.xmlrpc import supervisor_xmlrpc_handler

from supervisor_app.supervision.supervisord.xmlrpc_wire import (
    MAX_INT,
    MIN_INT,
    Fault,
    WireError,
    decode_response,
    encode_call,
)

VALUES: list[Any] = [
    "",
    "venue-001",
    "ünïcødé ✓ 市场 \U0001f4c8",
    "a & b < c > d ]]> &amp; &lt;tag&gt; \"quoted\" 'single'",
    "  leading and trailing spaces  ",
    "line\nbreaks\tand tabs",
    0,
    -1,
    MAX_INT,
    MIN_INT,
    True,
    False,
    1.5,
    -0.0,
    1e300,
    [],
    {},
    [[]],
    {"": ""},
    ["a", 1, True, [2, [3, {"deep": ["x"]}]]],
    {"name": "venue-001", "params": ["venue-001", False], "nested": {"empty": {}, "list": []}},
    [{"methodName": "supervisor.startProcess", "params": [f"venue-{i:03d}", False]} for i in range(64)],
    {"ключ & <key>": "значение"},
]


def _supervisord_parses(body: bytes) -> tuple[tuple[Any, ...], str]:
    """What supervisord's XML-RPC handler makes of a request body: (params, method)."""
    handler = object.__new__(supervisor_xmlrpc_handler)
    params, method = handler.loads(body.decode())
    return params, method


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_a_call_reads_back_as_sent_by_the_standard_library_and_by_supervisord(value: Any) -> None:
    body = encode_call("supervisor.method", [value, "second"])
    assert xmlrpc.client.loads(body) == ((value, "second"), "supervisor.method")
    assert _supervisord_parses(body) == ((value, "second"), "supervisor.method")


def test_a_call_without_params_and_a_tuple_param() -> None:
    assert xmlrpc.client.loads(encode_call("supervisor.getState", ())) == ((), "supervisor.getState")
    assert xmlrpc.client.loads(encode_call("m", [("a", 1)])) == ((["a", 1],), "m")


@pytest.mark.parametrize("value", [MAX_INT + 1, MIN_INT - 1, 2**63])
def test_an_int_beyond_xml_rpc_s_32_bits_is_refused_as_the_standard_library_does(value: int) -> None:
    with pytest.raises(OverflowError):
        xmlrpc.client.dumps((value,))
    with pytest.raises(OverflowError, match="int exceeds XML-RPC limits"):
        encode_call("m", [value])


@pytest.mark.parametrize("value", [None, b"bytes", object(), {1: "int key"}])
def test_a_value_xml_rpc_cannot_carry_to_supervisord_is_a_type_error(value: Any) -> None:
    with pytest.raises(TypeError):
        encode_call("m", [value])


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_a_response_decodes_as_the_standard_library_decodes_it(value: Any) -> None:
    body = xmlrpc.client.dumps((value,), methodresponse=True).encode()
    assert decode_response(body) == xmlrpc.client.loads(body)[0][0] == value


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<value>bare text &amp; more</value>", "bare text & more"),
        ("<value></value>", ""),
        ("<value><string></string></value>", ""),
        ("<value><i4>-7</i4></value>", -7),
        ("<value><i8>9223372036854775807</i8></value>", 2**63 - 1),
        ("<value><int> 42 </int></value>", 42),
        ("<value><boolean>1</boolean></value>", True),
        ("<value><double>2.5</double></value>", 2.5),
        ("<value><nil/></value>", None),
        ("<value><base64>AAEC/w==</base64></value>", b"\x00\x01\x02\xff"),
        ("<value><array><data></data></array></value>", []),
        ("<value><struct></struct></value>", {}),
        ("<value><struct><member><name>k</name><value>v</value></member></struct></value>", {"k": "v"}),
    ],
)
def test_every_type_supervisord_may_send_decodes_as_the_standard_library_decodes_it(xml: str, expected: Any) -> None:
    body = f"<?xml version='1.0'?><methodResponse><params><param>{xml}</param></params></methodResponse>".encode()
    assert decode_response(body) == expected
    assert xmlrpc.client.loads(body, use_builtin_types=True)[0][0] == expected


def test_base64_as_the_standard_library_writes_it_in_lines_decodes_to_bytes() -> None:
    data = bytes(range(256)) * 4
    body = xmlrpc.client.dumps((xmlrpc.client.Binary(data),), methodresponse=True).encode()
    assert b"\n" in body.split(b"<base64>")[1]
    assert decode_response(body) == data


def test_a_fault_is_raised_with_its_code_and_text() -> None:
    body = xmlrpc.client.dumps(xmlrpc.client.Fault(70, "NOT_RUNNING: venue-001 & <other>")).encode()
    with pytest.raises(Fault) as raised:
        decode_response(body)
    assert (raised.value.code, raised.value.text) == (70, "NOT_RUNNING: venue-001 & <other>")


def test_supervisord_s_answers_to_a_multicall_decode_with_faults_as_structs() -> None:
    results = [True, {"faultCode": 60, "faultString": "ALREADY_STARTED: venue-001"}, True]
    body = xmlrpc.client.dumps((results,), methodresponse=True).encode()
    assert decode_response(body) == results


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        b"<html><body>500 Internal Server Error</body></html>",
        b"<?xml version='1.0'?><methodResponse><params><param><value><int>1</int></value>",  # truncated
        b"<methodResponse><params><param><value><int>x</int></value></param></params></methodResponse>",
        b"<methodResponse><params><param><value><boolean>2</boolean></value></param></params></methodResponse>",
        b"<methodResponse><params><param><value><double>one</double></value></param></params></methodResponse>",
        b"<methodResponse><params><param><value><base64>AAE</base64></value></param></params></methodResponse>",
        b"<methodResponse><params><param><value><dateTime.iso8601>20240101T00:00:00</dateTime.iso8601>"
        b"</value></param></params></methodResponse>",
        b"<methodResponse><params></params></methodResponse>",  # no value
        b"<methodResponse><params><param><value>a</value></param><param><value>b</value></param></params>"
        b"</methodResponse>",
        b"<methodResponse><params><param><value><struct><member><value>no name</value></member></struct>"
        b"</value></param></params></methodResponse>",
        b"<methodResponse><fault><value><string>not a struct</string></value></fault></methodResponse>",
        b"<methodResponse><fault><value><struct></struct></value></fault></methodResponse>",
        b"<methodResponse><params><param><value><i4>1</i4></value></param></params></methodResponse><extra/>",
    ],
)
def test_a_malformed_response_is_a_wire_error(body: bytes) -> None:
    with pytest.raises(WireError, match="malformed XML-RPC"):
        decode_response(body)
