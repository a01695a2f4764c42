"""A stand-in for the YouTube Data API v3 on loopback, answering search.list
and videos.list with the documented shapes. scripts/schemathesis.sh points
the server at it so that the YouTube search can be fuzzed without leaving
the machine. Usage: youtube_mock.py PORT."""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/youtube/v3/search"):
            body = {
                "kind": "youtube#searchListResponse",
                "nextPageToken": "CAUQAA",
                "items": [
                    {
                        "id": {"kind": "youtube#video", "videoId": "dQw4w9WgXcQ"},
                        "snippet": {
                            "title": "Example",
                            "channelTitle": "Channel",
                            "thumbnails": {"high": {"url": "https://i.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg"}},
                        },
                    }
                ],
            }
        elif self.path.startswith("/youtube/v3/videos"):
            body = {"items": [{"id": "dQw4w9WgXcQ", "statistics": {"viewCount": "42"}}]}
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
