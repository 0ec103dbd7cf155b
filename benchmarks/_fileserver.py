"""A stdlib HTTP server for one folder, run as its own process: ``python -m benchmarks._fileserver DIR``.

Prints one JSON line ``{"port": N}`` then serves until killed. Bodies go out with
``socket.sendfile`` (zero-copy), so the server is not what limits the download benchmark.
"""

from __future__ import annotations

import functools
import json
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real file host

    def copyfile(self, source: Any, outputfile: Any) -> None:
        outputfile.flush()
        self.connection.sendfile(source)

    def log_message(self, *args: Any) -> None:  # quiet: the table is the output
        return


def main() -> None:
    handler = functools.partial(_Handler, directory=sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
