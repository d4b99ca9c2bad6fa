import pytest

from common import format_addr, listen_error, parse_addr


def test_parse_addr() -> None:
    assert parse_addr("127.0.0.1:9000") == ("127.0.0.1", 9000)
    assert parse_addr(":9000") == ("", 9000)
    assert parse_addr("[::1]:8443") == ("::1", 8443)
    with pytest.raises(ValueError):
        parse_addr("localhost")
    with pytest.raises(ValueError):
        parse_addr("localhost:99999")


def test_format_addr() -> None:
    assert format_addr(("127.0.0.1", 5)) == "127.0.0.1:5"
    assert format_addr(("::1", 5, 0, 0)) == "[::1]:5"


def test_listen_error_hint() -> None:
    err = OSError(98, "Address already in use")
    assert "try --addr 127.0.0.1:0" in listen_error("127.0.0.1:1", err)
