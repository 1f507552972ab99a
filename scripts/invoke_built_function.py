"""Run a built function the way Lambda does, and answer events with it.

    python3.12 -I -S -B scripts/invoke_built_function.py BUILD_DIR FUNCTION MODULE [RUNTIME_DIR] < events.json

sys.path holds only the function's build folder and its layers' python/ folders
(the layers named in LAMBDA_LAYERS, comma-separated, in order; SharedLayer alone
by default)
(plus the standard library, and RUNTIME_DIR standing in for what Lambda's
runtime adds: boto3): nothing of the repository, nothing of any virtualenv, no
site-packages, no bytecode written. It imports MODULE's
`handler`, feeds it each event of the JSON list on stdin, and prints one JSON
object: the handler's answers, the milliseconds the import and the first answer
took, and each answer's own milliseconds.
Used by the artefact tests and the cold-start benchmark; stdlib only.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
import time
import uuid
from pathlib import Path


class Context:
    """The parts of Lambda's context object the handlers read."""

    function_name = "built-artefact"
    memory_limit_in_mb = 512
    invoked_function_arn = (
        "arn:aws:lambda:us-east-1:123456789012:function:built-artefact"
    )

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 15_000


def main() -> int:
    started = time.perf_counter()
    build_dir, function, module_name = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    layers = os.environ.get("LAMBDA_LAYERS", "SharedLayer").split(",")
    sys.path[:0] = [
        str(build_dir / function),
        *(str(build_dir / layer / "python") for layer in layers),
    ]
    if len(sys.argv) > 4:  # after the layer, where Lambda's runtime puts boto3
        sys.path.append(sys.argv[4])
    events = json.load(sys.stdin)
    # Powertools prints metrics and logs to stdout; keep stdout for the report.
    captured = io.StringIO()
    answers = []
    answer_ms = []
    with contextlib.redirect_stdout(captured):
        handler = importlib.import_module(module_name).handler
        imported = time.perf_counter()
        for event in events:
            asked = time.perf_counter()
            answers.append(handler(event, Context()))
            answered = time.perf_counter()
            answer_ms.append((answered - asked) * 1000)
            if len(answers) == 1:
                first_answered = answered
    print(
        json.dumps(
            {
                "import_ms": (imported - started) * 1000,
                "first_answer_ms": (first_answered - started) * 1000
                if answers
                else None,
                "answer_ms": answer_ms,
                "answers": answers,
                "loaded_from_site_packages": [
                    name
                    for name, module in sys.modules.items()
                    if "/site-packages/" in (getattr(module, "__file__", "") or "")
                ],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
