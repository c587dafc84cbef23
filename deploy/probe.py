"""The container's health probe (the image has no curl): `python deploy/probe.py /readyz [PORT]`.

Asks the desk on 127.0.0.1 (port 8080 unless given) for the path, prints the answer (Docker keeps it
in `docker inspect`'s health log) and exits 0 for 200, 1 for anything else or no answer. Proxy
variables are ignored: the question never leaves the container.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

TIMEOUT = 4.0  # seconds; under the health checks' own timeout (5 s)


def probe(path: str, port: int) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT) as response:
            return response.status, response.read(4000).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(4000).decode("utf-8", "replace")
    except OSError as exc:
        return 0, f"no answer: {type(exc).__name__}"


def main(argv: list[str]) -> int:
    path = argv[0] if argv else "/healthz"
    port = int(argv[1]) if len(argv) > 1 else 8080
    status, text = probe(path, port)
    sys.stdout.write(f"{status} {text}\n")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
