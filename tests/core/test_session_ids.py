"""Session ids: 22 base64url characters, never starting with ``-`` or ``_`` (so an id is
a plain command-line argument), while ids made before that rule stay valid."""

from __future__ import annotations

import os

import pytest

from icewatch.core.session import SESSION_ID_BYTES, is_session_id, make_session_id


@pytest.mark.parametrize("first", range(256))
def test_no_id_starts_like_an_option(first: int) -> None:
    sid = make_session_id(bytes([first]) + os.urandom(SESSION_ID_BYTES - 1))
    assert sid[0] not in "-_"
    assert is_session_id(sid)
    assert len(sid) == 22


def test_ids_keep_127_random_bits() -> None:
    rest = bytes(range(1, SESSION_ID_BYTES))
    ids = {make_session_id(bytes([b]) + rest) for b in range(128)}
    assert len(ids) == 128  # every value of the first byte's low 7 bits gives its own id
    assert make_session_id(bytes([0x80]) + rest) == make_session_id(bytes([0x00]) + rest)


def test_older_ids_that_start_with_a_dash_are_still_ids() -> None:
    assert is_session_id("-" + "A" * 21)
    assert is_session_id("_" + "b" * 21)


def test_the_random_input_has_its_length() -> None:
    with pytest.raises(ValueError, match="16 random bytes"):
        make_session_id(b"short")
