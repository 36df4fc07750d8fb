"""Untrusted text made safe for a terminal: one visible scheme, and live output that keeps
colour but nothing else."""

from __future__ import annotations

import pytest

from orchestratia.cli.render.safe import SafeStream, is_safe, visible

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"  # writes "rm -rf ~" into the clipboard
TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J"


def test_control_characters_become_control_pictures() -> None:
    assert visible(f"hi{OSC52}") == "hi␛]52;c;cm0gLXJmIH4=␇"
    assert visible(TITLE + CLEAR) == "␛]0;pwned␇␛[2J"
    assert visible("a\rb\x7fc\x00") == "a␍b␡c␀"


def test_newlines_and_tabs_are_kept_only_where_a_field_may_span_lines() -> None:
    assert visible("a\nb\tc") == "a␊b␉c"
    assert visible("a\nb\tc", multiline=True) == "a\nb\tc"
    assert visible("a\r\nb", multiline=True) == "a␍\nb"


def test_c1_controls_and_bidi_overrides_are_escaped() -> None:
    assert visible("\x9b2J and \x9d0;t\x9c") == "\\x9b2J and \\x9d0;t\\x9c"
    assert visible("abc\u202edcba") == "abc\\u202edcba"


def test_ordinary_text_is_untouched() -> None:
    text = "héllo 日本 🎉 — “quotes” ~/x"
    assert visible(text) == text and is_safe(text)
    assert visible(None) == "" and visible(42) == "42"
    assert not is_safe(CLEAR)


def test_stream_passes_colour_and_shows_everything_else() -> None:
    stream = SafeStream()
    out = stream.feed(f"\x1b[1;31mred\x1b[0m {CLEAR}{OSC52}\r\n\tok\x08") + stream.flush()
    assert out == "\x1b[1;31mred\x1b[0m ␛[2J␛]52;c;cm0gLXJmIH4=␇\r\n\tok␈"


@pytest.mark.parametrize("cut", range(1, 9))
def test_a_colour_split_across_chunks_still_passes(cut: int) -> None:
    text = "a\x1b[38;5;2mb\x1b[0m"
    stream = SafeStream()
    assert stream.feed(text[:cut]) + stream.feed(text[cut:]) + stream.flush() == text


def test_an_unfinished_sequence_is_shown_at_the_end() -> None:
    stream = SafeStream()
    assert stream.feed("x\x1b[3") == "x"
    assert stream.flush() == "␛[3"
    held = SafeStream()
    assert held.feed("\x1b[" + "1;" * 40) .startswith("␛[")  # too long to be held back
