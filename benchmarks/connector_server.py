"""The tool server of `connector_bench.py`, in a process of its own (it imports nothing of the
portal): Azure DevOps' Reporting Work Item Revisions API over ITEMS items of REVISIONS revisions
each, made batch by batch as they are asked for.

    python benchmarks/connector_server.py ITEMS REVISIONS PORT_FILE

Revision i is item i % ITEMS + 1's (i // ITEMS + 1)-th: every item's first revision, then every
item's second, and so on, as an organisation's changes interleave. `POST /_bench/change?count=N`
gives items 1..N one more revision (reopened), for the incremental sync.
"""

import base64
import datetime as dt
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
from pathlib import Path
import sys
from urllib.parse import parse_qs, urlsplit

STATES = ["New", "Active", "Active", "Resolved", "Active", "Closed"]  # by revision (the 3rd edits the title)
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def serve(items: int, revisions: int, port_file: str) -> None:
    extra: list[tuple[int, int, str]] = []  # (item, rev, state) of the changes made after the backfill

    def revision(index: int) -> dict:
        if index < items * revisions:
            item, rev = index % items + 1, index // items + 1
            state = STATES[(rev - 1) % len(STATES)]
        else:
            item, rev, state = extra[index - items * revisions]
        title = f"Work item {item}" + (" (refined)" if rev >= 3 else "")
        changed = T0 + dt.timedelta(seconds=index * 30)
        return {
            "id": item,
            "rev": rev,
            "fields": {
                "System.Id": item,
                "System.Rev": rev,
                "System.WorkItemType": "Bug" if item % 5 == 0 else "User Story",
                "System.State": state,
                "System.Title": title,
                "System.AreaPath": "Scale",
                "System.CreatedDate": (T0 + dt.timedelta(seconds=(item - 1) * 30)).isoformat().replace("+00:00", "Z"),
                "System.ChangedDate": changed.isoformat().replace("+00:00", "Z"),
            },
        }

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            if not url.path.endswith("/_apis/wit/reporting/workitemrevisions"):
                self.send_error(404)
                return
            total = items * revisions + len(extra)
            start = int(base64.b64decode(query["continuationToken"])) if "continuationToken" in query else 0
            end = min(total, start + min(int(query.get("maxPageSize", 200)), 1000))
            token = base64.b64encode(str(end).encode()).decode()
            self.answer(
                {
                    "values": [revision(i) for i in range(start, end)],
                    "continuationToken": token,
                    "isLastBatch": end >= total,
                }
            )

        def do_POST(self):  # /_bench/change?count=N: N items get a new revision (reopened)
            count = int(parse_qs(urlsplit(self.path).query)["count"][0])
            done = {}
            for item in range(1, count + 1):
                done[item] = done.get(item, revisions) + 1
                extra.append((item, done[item], "Active"))
            self.answer({"changed": count})

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Path(port_file).write_text(str(httpd.server_address[1]))
    httpd.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
