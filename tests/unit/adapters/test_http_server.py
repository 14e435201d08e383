"""The threading HTTP server's error report: a connection ended mid-request is not an error."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler

import pytest

from runofshow.adapters.http_server import TrackingHTTPServer
from tests.helpers import TrackedHTTPServer


class _Quiet(TrackingHTTPServer):
    def __init__(self) -> None:  # no socket: only handle_error is exercised
        self._closing = False


def _report(server: TrackingHTTPServer, exc: BaseException) -> None:
    try:
        raise exc
    except BaseException:
        server.handle_error(None, ("127.0.0.1", 1))


@pytest.mark.parametrize("exc", [ConnectionResetError(104, "reset"), BrokenPipeError(32, "pipe")])
def test_a_connection_the_client_ended_is_not_reported(
    exc: BaseException, capsys: pytest.CaptureFixture[str]
) -> None:
    _report(_Quiet(), exc)
    assert capsys.readouterr().err == ""


def test_a_socket_error_while_closing_is_not_reported(capsys: pytest.CaptureFixture[str]) -> None:
    server = _Quiet()
    _report(server, OSError(9, "bad file descriptor"))
    assert "Exception occurred during processing of request" in capsys.readouterr().err
    server._closing = True
    _report(server, OSError(9, "bad file descriptor"))
    assert capsys.readouterr().err == ""


def test_a_handler_bug_is_still_reported(capsys: pytest.CaptureFixture[str]) -> None:
    _report(_Quiet(), ValueError("handler bug"))
    err = capsys.readouterr().err
    assert "Exception occurred during processing of request" in err and "ValueError: handler bug" in err


def test_close_marks_the_server_closing() -> None:
    server = TrackedHTTPServer(BaseHTTPRequestHandler)
    server.start()
    server.stop()
    assert server._closing
