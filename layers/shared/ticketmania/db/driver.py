"""pg8000's connection, as every engine of ours opens it: each statement one
round trip, and nothing left on the server between statements.

pg8000 sends a statement with parameters as three exchanges, each ended by a
Sync (parse; describe and bind; execute), and a prepared statement under a
name the connection chose (`pg8000_statement_0`, ...). Behind a transaction
pooler (PgBouncer in transaction mode, RDS Proxy) both break outside a
transaction: after each Sync the pooler may hand the server connection to
another client, so the bind can meet another client's unnamed statement, and
a named statement can be another client's statement of the same name. Here a
statement is Parse, Bind, Describe, Execute and one Sync, written at once:
the server runs it start to finish before the pooler may move on, the
statement is unnamed, and it costs one round trip instead of three.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Sequence
from typing import Any

import pg8000.legacy
from pg8000.converters import make_params
from pg8000.core import (
    BIND,
    DESCRIBE,
    EXECUTE_MSG,
    NULL_BYTE,
    PARSE,
    PORTAL,
    STATEMENT,
    SYNC_MSG,
    Context,
    H_pack,
    H_unpack,
    _flush,
    _write,
    i_pack,
)


class Connection(pg8000.legacy.Connection):  # type: ignore[misc]
    """pg8000's DB-API connection with one-round-trip statements, closing its
    socket even when saying goodbye fails."""

    def execute_unnamed(
        self,
        statement: str,
        vals: Sequence[Any] = (),
        oids: Sequence[int] = (),
        stream: Any = None,
    ) -> Context:
        if stream is not None:
            # COPY answers mid-statement with a request for data: pg8000's own
            # exchange handles that (nothing of ours sends COPY).
            return super().execute_unnamed(
                statement, vals=vals, oids=oids, stream=stream
            )
        encoding = self._client_encoding
        parse = bytearray(NULL_BYTE)  # the unnamed statement
        parse += statement.encode(encoding) + NULL_BYTE
        parse += H_pack(len(oids))
        for oid in oids:
            parse += i_pack(0 if oid == -1 else oid)
        # Unnamed portal and statement; every parameter and result as text.
        bind = bytearray(NULL_BYTE + NULL_BYTE + H_pack(0))
        params = make_params(self.py_types, vals)
        bind += H_pack(len(params))
        for value in params:
            if value is None:
                bind += i_pack(-1)
            else:
                encoded = value.encode(encoding)
                bind += i_pack(len(encoded)) + encoded
        bind += H_pack(0)
        self._send_message(PARSE, parse)
        self._send_message(BIND, bind)
        # Describing the portal, not the statement: its columns, to read the rows by.
        self._send_message(DESCRIBE, PORTAL + NULL_BYTE)
        _write(self._sock, EXECUTE_MSG)
        _write(self._sock, SYNC_MSG)
        _flush(self._sock)
        context = Context(statement)
        self.handle_messages(context)
        return context

    def describe(self, statement: str) -> tuple[list[int], list[tuple[int, int]]]:
        """What the server makes of `statement` (`$n` placeholders), run nowhere:
        its parameters' type OIDs, and its columns' (type OID, type modifier)."""
        self._send_message(
            PARSE,
            NULL_BYTE + statement.encode(self._client_encoding) + NULL_BYTE + H_pack(0),
        )
        self._send_message(DESCRIBE, STATEMENT + NULL_BYTE)
        _write(self._sock, SYNC_MSG)
        _flush(self._sock)
        context = Context(statement)
        self.handle_messages(context)
        columns = [(c["type_oid"], c["type_modifier"]) for c in context.columns or ()]
        return list(getattr(context, "parameter_oids", ())), columns

    def handle_PARAMETER_DESCRIPTION(self, data: bytes, context: Context) -> None:
        # pg8000 reads past it; `describe` needs the types.
        (count,) = H_unpack(data[:2])
        context.parameter_oids = struct.unpack_from("!" + "I" * count, data, 2)

    def close(self) -> None:
        # pg8000 closes a connection by writing Terminate, then the socket; when
        # the write fails (the server is gone: a restart, a shutdown) its
        # buffered file over the socket keeps the descriptor open, in a cycle
        # with the error, until the garbage collector finds both.
        buffered = self._sock
        try:
            super().close()
        finally:
            if buffered is not None:
                with contextlib.suppress(OSError):
                    buffered.close()
