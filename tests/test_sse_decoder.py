"""The SSE decoder: framing, fields, and chunk boundaries anywhere; for upstreams
(``SSEDecoder``) and for clients of the gateway's streams (``SSEFieldDecoder``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from hypothesis import given
from hypothesis import strategies as st

from providers.sse import SSEDecoder, SSEFieldDecoder, iter_sse


def decode(*chunks: bytes) -> list[tuple[bytes | None, bytes]]:
    decoder = SSEDecoder()
    return [event for chunk in chunks for event in decoder.feed(chunk)]


def test_single_data_line_with_and_without_the_space() -> None:
    assert decode(b'data: {"a":1}\n\ndata:{"b":2}\n\n') == [(None, b'{"a":1}'), (None, b'{"b":2}')]


def test_only_one_space_is_removed() -> None:
    assert decode(b"data:  two spaces\n\n") == [(None, b" two spaces")]


def test_event_names_are_bytes_and_reset_per_event() -> None:
    stream = b"event: message_start\ndata: {}\n\ndata: plain\n\nevent:ping\ndata: {}\n\n"
    assert decode(stream) == [(b"message_start", b"{}"), (None, b"plain"), (b"ping", b"{}")]


def test_an_empty_event_name_is_the_default() -> None:
    assert decode(b"event: \ndata: x\n\nevent:\ndata: y\n\n") == [(None, b"x"), (None, b"y")]


def test_multi_line_data_is_joined_with_lf() -> None:
    assert decode(b"data: one\ndata:two\ndata\ndata: four\n\n") == [(None, b"one\ntwo\n\nfour")]


def test_comments_id_retry_and_unknown_fields_are_ignored() -> None:
    stream = b": ping\n\nid: 7\nretry: 100\nfoo: bar\n: note\ndata: kept\n\n:only a comment\n\n"
    assert decode(stream) == [(None, b"kept")]


def test_an_event_without_data_is_not_dispatched() -> None:
    assert decode(b"event: lonely\n\nid: 3\n\ndata: x\n\n") == [(None, b"x")]


def test_extra_blank_lines_between_events() -> None:
    assert decode(b"\n\ndata: a\n\n\n\n\ndata: b\n\n\n") == [(None, b"a"), (None, b"b")]


def test_crlf_and_lone_cr_framing() -> None:
    expected = [(b"e", b"1\n2"), (None, b"3")]
    assert decode(b"event: e\r\ndata: 1\r\ndata: 2\r\n\r\ndata: 3\r\n\r\n") == expected
    assert decode(b"event: e\rdata: 1\rdata: 2\r\rdata: 3\r\r") == expected


def test_crlf_split_between_cr_and_lf() -> None:
    assert decode(b"data: a\r", b"\n\r", b"\ndata: b\r\n\r", b"\n") == [(None, b"a"), (None, b"b")]


def test_a_lone_cr_at_a_chunk_end_is_still_a_newline() -> None:
    assert decode(b"data: a\r", b"\r", b"data: b\r", b"\rdata: c\r\r") == [
        (None, b"a"),
        (None, b"b"),
        (None, b"c"),
    ]


def test_blank_line_straddling_two_chunks() -> None:
    assert decode(b"data: a\n", b"\ndata: b\n", b"\n") == [(None, b"a"), (None, b"b")]


def test_events_complete_only_at_their_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a") == []
    assert decoder.feed(b"bc\n") == []
    assert decoder.feed(b"data: more\n") == []
    assert decoder.feed(b"\ndata: next") == [(None, b"abc\nmore")]
    assert decoder.feed(b"\n\n") == [(None, b"next")]
    assert decoder.feed(b"") == []


def test_every_single_split_point_gives_the_same_events() -> None:
    stream = (
        b': hello\r\n\r\nevent: message_start\r\ndata: {"a": 1}\r\n\r\n'
        b"data: x\r\ndata: y\r\n\r\nid: 1\r\ndata:z\r\n\r\n"
    )
    expected = [(b"message_start", b'{"a": 1}'), (None, b"x\ny"), (None, b"z")]
    for cut in range(len(stream) + 1):
        assert decode(stream[:cut], stream[cut:]) == expected, cut
    assert decode(*(stream[i : i + 1] for i in range(len(stream)))) == expected


async def test_iter_sse_drops_an_unterminated_event_at_eof() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"data: whole\n\nevent: e\ndata: par"
        yield b"tial\n"

    assert [event async for event in iter_sse(chunks())] == [(None, b"whole")]


# -- property: any events, any framing, any chunking ------------------------------------------

line_text = st.binary(max_size=12).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
events = st.lists(
    st.tuples(
        st.one_of(st.none(), line_text),  # event name
        st.lists(line_text, min_size=1, max_size=3),  # data lines
        st.booleans(),  # a comment and an id line before it
    ),
    max_size=6,
)


def serialise(event_list: list, newline: bytes) -> bytes:
    out = b""
    for name, data_lines, extras in event_list:
        lines = [b": keep-alive", b"id: 42"] if extras else []
        if name is not None:
            lines.append(b"event: " + name)
        lines += [b"data: " + line for line in data_lines]
        out += newline.join(lines) + newline + newline
    return out


def expected_events(event_list: list) -> list[tuple[bytes | None, bytes]]:
    return [(name or None, b"\n".join(data_lines)) for name, data_lines, _ in event_list]


@given(
    event_list=events,
    newline=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_random_events_framing_and_chunk_boundaries(
    event_list: list, newline: bytes, cuts: list[int]
) -> None:
    stream = serialise(event_list, newline)
    points = sorted({min(cut, len(stream)) for cut in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    assert decode(*chunks) == expected_events(event_list)


# -- the field decoder: ids, retry and comments too -------------------------------------------


def decode_fields(*chunks: bytes, keep_comments: bool = True) -> tuple[list, SSEFieldDecoder]:
    decoder = SSEFieldDecoder(keep_comments=keep_comments)
    return [event for chunk in chunks for event in decoder.feed(chunk)], decoder


def test_the_gateways_shape_gives_id_name_and_data() -> None:
    stream = b'retry: 2000\n\nid: 1\nevent: turn\ndata: {"a":1}\n\nid: 2\nevent: delta\ndata: x\n\n'
    events, decoder = decode_fields(stream)
    assert events == [(b"1", b"turn", b'{"a":1}'), (b"2", b"delta", b"x")]
    assert decoder.retry == 2000


def test_fields_in_any_order_and_events_without_an_id() -> None:
    stream = b"data: a\nid: 7\nevent: e\n\nevent: f\ndata: b\n\ndata: c\ndata: d\n\n"
    events, _ = decode_fields(stream)
    assert events == [(b"7", b"e", b"a"), (None, b"f", b"b"), (None, None, b"c\nd")]


def test_comments_are_kept_only_when_asked() -> None:
    stream = b": ping\n\n:note\nid: 1\nevent: e\ndata: x\n\n"
    events, decoder = decode_fields(stream)
    assert events == [(b"1", b"e", b"x")] and decoder.comments == [b"ping", b"note"]
    _, quiet = decode_fields(stream, keep_comments=False)
    assert quiet.comments is None


def test_a_bad_retry_is_ignored_and_the_last_good_one_wins() -> None:
    _, decoder = decode_fields(b"retry: 10\n\nretry: soon\n\nretry: 30\nretry: -1\n\n")
    assert decoder.retry == 30


@given(
    event_list=events,
    newline=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
    gateway_shape=st.booleans(),
)
def test_random_field_events_framing_and_chunk_boundaries(
    event_list: list, newline: bytes, cuts: list[int], gateway_shape: bool
) -> None:
    """The same random streams as above, read by the field decoder: it agrees with
    ``SSEDecoder`` on names and data and also returns each event's id."""
    stream = b""
    expected = []
    for number, (name, data_lines, extras) in enumerate(event_list, 1):
        if gateway_shape:  # the gateway's own shape: the fast path
            name = name or b"message"
            data_lines = data_lines[:1]
        lines = [b": keep-alive"] if extras and not gateway_shape else []
        lines += [b"id: %d" % number]
        if name is not None:
            lines.append(b"event: " + name)
        lines += [b"data: " + line for line in data_lines]
        stream += newline.join(lines) + newline + newline
        expected.append((b"%d" % number, name or None, b"\n".join(data_lines)))
    points = sorted({min(cut, len(stream)) for cut in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    events_read, decoder = decode_fields(*chunks)
    assert events_read == expected
    assert decoder.comments == [b"keep-alive"] * sum(
        1 for _, _, extras in event_list if extras and not gateway_shape
    )
