"""The parsing half of a big FEC import, run as `python -m connectors.files.fec_worker PATH NAME
BATCH OPTIONS_JSON` by `fec.batches_in_subprocess`: it reads the file and writes framed messages
on stdout (see `fec.write_message`): each batch of row tuples (marshal: about five times cheaper to
write than pickle for these rows), then ("done", findings) or ("error", message) (pickle)."""
from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

from connectors.files.detect import ReadOptions
from connectors.files.fec import FecReader, write_message


def main(argv: list[str]) -> int:
    out = sys.stdout.buffer
    gc.disable()  # a short-lived process making millions of tuples and no reference cycles
    try:
        path, name, batch_rows, options = argv
        reader = FecReader(Path(path).read_bytes(), name, ReadOptions(**json.loads(options)))
        for batch in reader.batches(batch_rows=int(batch_rows)):
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
