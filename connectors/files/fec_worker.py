"""The parsing half of a big FEC import, run as `python -m connectors.files.fec_worker PATH NAME
BATCH OPTIONS_JSON` by `fec.batches_in_subprocess`: it reads the file and writes pickled
("rows", batch) messages on stdout, then ("done", findings), or ("error", message)."""
from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

from connectors.files.detect import ReadOptions
from connectors.files.fec import FecReader


def main(argv: list[str]) -> int:
    out = sys.stdout.buffer
    try:
        path, name, batch_rows, options = argv
        reader = FecReader(Path(path).read_bytes(), name, ReadOptions(**json.loads(options)))
        for batch in reader.batches(batch_rows=int(batch_rows)):
            pickle.dump(("rows", batch), out, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(("done", (reader.report, reader.bad_entries, reader.period, reader.rows_yielded)), out,
                    protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # reported to the parent, which falls back to parsing in-process
        pickle.dump(("error", f"{type(exc).__name__}: {exc}"), out)
        return 1
    finally:
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
