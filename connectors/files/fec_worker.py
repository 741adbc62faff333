"""The parsing half of a big FEC import, run as `python -m connectors.files.fec_worker PATH NAME
BATCH OPTIONS_JSON [FIRST_BATCH]` by `fec.ParsingProcess` (PATH `-`: the file's bytes on stdin):
it reads the file and writes framed messages on stdout (see `fec.write_message`): each batch of
row tuples (marshal: about five times cheaper to write than pickle for these rows), the first one
small so that the writer starts early, then ("done", findings) or ("error", message) (pickle)."""
from __future__ import annotations

import gc
import json
import sys
from pathlib import Path


class _NoPandas:
    """pyarrow imports pandas (0.2 s here) on its first `pa.array(list)` only to ask whether the
    input is a DataFrame; this process never has one, so pandas is reported as not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError("pandas is not used by the FEC parsing process", name=name)
        return None


if __name__ == "__main__":  # the parsing process itself: before the imports below load pyarrow
    sys.meta_path.insert(0, _NoPandas())

from connectors.files.detect import ReadOptions  # noqa: E402
from connectors.files.fec import FecReader, write_message  # noqa: E402


def main(argv: list[str]) -> int:
    out = sys.stdout.buffer
    gc.disable()  # a short-lived process making millions of tuples and no reference cycles
    try:
        path, name, batch_rows, options, *first = argv
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        reader = FecReader(data, name, ReadOptions(**json.loads(options)))
        for batch in reader.batches(batch_rows=int(batch_rows), first_batch_rows=int(first[0]) if first else None):
            write_message(out, "rows", batch)
        write_message(out, "done", (reader.report, reader.bad_entries, reader.period, reader.rows_yielded))
    except Exception as exc:  # reported to the parent, which falls back to parsing in-process
        write_message(out, "error", f"{type(exc).__name__}: {exc}")
        return 1
    finally:
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
