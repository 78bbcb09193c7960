"""realtime.socketio.filter: which long-polling POST bodies reach python-engineio.

Checked against python-engineio's own decoding: what the filter lets through decodes there,
and the base64 packets it refuses would have raised there (logged with a traceback: once
found by test_fuzz). The live side (a 400 answer, nothing logged) is in test_fuzz.
"""

import pytest
from engineio import payload

from realtime.socketio.filter import valid_payload


def decodes_in_engineio(body: str) -> bool:
    try:
        payload.Payload(encoded_payload=body)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    "body",
    ["4hello", "2\x1e3\x1e40/running_logger,", "bAQID", "b", "b!!"],  # "b!!": chars dropped
)
def test_well_formed_payloads_pass_and_decode(body):
    assert valid_payload(body.encode())
    assert decodes_in_engineio(body)


@pytest.mark.parametrize("body", ["bé", "babc"])  # not ASCII; bad padding
def test_base64_packets_python_engineio_cannot_decode_are_refused(body):
    assert not valid_payload(body.encode())
    assert not decodes_in_engineio(body)


@pytest.mark.parametrize("body", [b"", b"9nope", b"4ok\x1e", b"4\xff"])
def test_empty_unknown_or_undecodable_packets_are_refused(body):
    assert not valid_payload(body)
