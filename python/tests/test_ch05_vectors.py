"""The shared test vectors (ch05-filexfer/testdata/vectors.json), decoded and
re-encoded by the Python implementation. The Go test TestVectors does the
same with the Go implementation, so both agree byte for byte."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import pytest

import ch05_filexfer as fx

VECTORS = json.loads(
    (Path(__file__).resolve().parents[2] / "ch05-filexfer/testdata/vectors.json").read_text()
)["vectors"]


def raw(v: dict[str, Any]) -> bytes:
    return bytes.fromhex(v["hex"].replace(" ", ""))


def outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "", fn(*args)
    except fx.ProtoError as e:
        return e.status, None
    except fx.CutOff:
        return "CUT_OFF", None


def ids(kind: str) -> list[Any]:
    return [pytest.param(v, id=v["desc"]) for v in VECTORS if v["kind"] == kind]


@pytest.mark.parametrize("v", ids("header"))
def test_header(v: dict[str, Any]) -> None:
    err, h = outcome(fx.read_header, io.BytesIO(raw(v)))
    if err == "" and h is None:
        err = "EOF"
    assert err == v.get("error", "")
    if err:
        return
    assert h == fx.Header(**v["header"])
    assert fx.encode_header(h).hex() == raw(v).hex()


@pytest.mark.parametrize("v", ids("chunk"))
def test_chunk(v: dict[str, Any]) -> None:
    err, res = outcome(fx.read_chunk, io.BytesIO(raw(v)), v["limit"])
    assert err == v.get("error", "")
    if err:
        return
    data, digest = res
    if v.get("end"):
        assert digest is not None and digest.hex() == v["sha256"]
        assert fx.encode_end(digest).hex() == raw(v).hex()
    else:
        assert digest is None and data.hex() == v["data_hex"]
        assert fx.encode_chunk(data).hex() == raw(v).hex()


@pytest.mark.parametrize("v", ids("reply"))
def test_reply(v: dict[str, Any]) -> None:
    err, r = outcome(fx.read_reply, io.BytesIO(raw(v)))
    assert err == v.get("error", "")
    if err:
        return
    assert r == fx.Reply(**v["reply"])
    assert fx.encode_reply(r).hex() == raw(v).hex()


@pytest.mark.exercise("exercise-check-name-py")
@pytest.mark.parametrize("v", ids("name"))
def test_name(v: dict[str, Any]) -> None:
    name = (
        v["name"]
        if "name" in v
        else bytes.fromhex(v["name_hex"]).decode("utf-8", "surrogateescape")
    )
    err, _ = outcome(fx.check_name, name)
    assert err == v.get("error", "")


def test_every_kind_is_covered() -> None:
    kinds = [v["kind"] for v in VECTORS]
    for k in ("header", "chunk", "reply", "name"):
        assert kinds.count(k) >= 5, k


def test_crc32c_check_value() -> None:
    assert fx.crc32c(b"123456789") == 0xE3069283
    assert fx.crc32c(b"6789", fx.crc32c(b"12345")) == 0xE3069283


def test_crc32c_fast_equals_table() -> None:
    rng = random.Random(5)
    for n in [*range(200), 1000, 4095, 4096, 65537, 300_000]:
        data = rng.randbytes(n)
        assert fx.crc32c(data) == fx.crc32c_table(data), n
        cut = n // 3
        assert fx.crc32c(data[cut:], fx.crc32c(data[:cut])) == fx.crc32c_table(data), n


def test_traced_span_joins_the_senders_trace() -> None:
    """With the OpenTelemetry SDK, the receiver's span is a child of the
    header's traceparent, and the traceparent passed on is the new span's."""
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exp = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exp))
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with fx.traced("filexfer.receive", parent, tracer_provider=tp, **{"filexfer.name": "a"}) as (
        _,
        onward,
    ):
        pass  # the file arrived: traced records result "ok"
    (s,) = exp.get_finished_spans()
    assert s.name == "filexfer.receive"
    assert f"{s.context.trace_id:032x}" == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert s.parent is not None and f"{s.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert s.attributes == {"filexfer.name": "a", "filexfer.result": "ok"}
    assert onward == f"00-{s.context.trace_id:032x}-{s.context.span_id:016x}-01"

    # A refused file: the result is the refusal's status, and the error goes on.
    with (
        pytest.raises(fx.ProtoError),
        fx.traced("filexfer.receive", parent, tracer_provider=tp, **{"filexfer.name": "b"}),
    ):
        raise fx.ProtoError("BAD_NAME", "no")
    assert exp.get_finished_spans()[-1].attributes == {
        "filexfer.name": "b",
        "filexfer.result": "bad_name",
    }


def test_traced_without_sdk_forwards_the_parent() -> None:
    """No SDK configured (the API's no-op provider), or no opentelemetry at
    all: the traceparent is passed on unchanged."""
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with fx.traced("filexfer.send", parent) as (_, onward):
        assert onward == parent
    with fx.traced("filexfer.send", "") as (_, onward):
        assert onward == ""
