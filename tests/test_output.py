"""The formatters' output plumbing (``rwalk._output``)."""

from __future__ import annotations

from rwalk._output import BatchedWriter


def test_batched_writer_passes_on_full_blocks_and_the_rest_on_flush() -> None:
    received: list[bytes] = []
    writer = BatchedWriter(received.append, block_size=4)
    writer.write(b"ab")
    assert received == []
    writer.write(b"cde")
    assert received == [b"abcde"]
    writer.write(b"f")
    writer.flush()
    assert received == [b"abcde", b"f"]
    writer.flush()
    assert received == [b"abcde", b"f"]


def test_batched_writer_of_block_size_one_passes_every_piece_at_once() -> None:
    received: list[bytes] = []
    writer = BatchedWriter(received.append, block_size=1)
    writer.write(b"line\n")
    writer.write(b"more\n")
    assert received == [b"line\n", b"more\n"]
