"""schemathesis's command line, with `ast.parse` taken one call at a time.

CPython 3.11 keeps the AST constructor's recursion depth in interpreter-wide
state (python/cpython#106905), so two threads parsing at once can die with
"SystemError: AST constructor recursion depth mismatch". hypothesis parses a
lambda's source to describe it, and schemathesis runs its phases in threads:
here about one run in three crashed that way, a failure of the tool and not a
finding about the API. One lock around `ast.parse` removes the race.
"""

import ast
import sys
import threading
from typing import Any

from schemathesis.cli import schemathesis

_parse = ast.parse
_parsing = threading.RLock()


def parse_one_at_a_time(*args: Any, **kwargs: Any) -> Any:
    with _parsing:
        return _parse(*args, **kwargs)


if __name__ == "__main__":
    ast.parse = parse_one_at_a_time  # type: ignore[assignment]
    sys.exit(schemathesis())
