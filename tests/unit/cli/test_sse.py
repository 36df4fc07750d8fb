from orchestratia.cli.sse import iter_sse


def test_events_comments_and_multiline_data() -> None:
    lines = [": keep-alive", "id: 5", "event: output", 'data: {"text": "a"}', "", "event: end", "data: x", "data: y", "", ""]
    events = list(iter_sse(lines))
    assert [(e.event, e.data, e.id) for e in events] == [("output", '{"text": "a"}', "5"), ("end", "x\ny", "5")]


def test_trailing_event_without_blank_line_and_crlf() -> None:
    events = list(iter_sse(["event: status\r", "data: {}\r"]))
    assert [(e.event, e.data) for e in events] == [("status", "{}")]
