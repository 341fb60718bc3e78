"""A stand-in for the Hugging Face Hub's HTTP API on 127.0.0.1, enough for `HfApi.create_repo` and
`HfApi.create_commit` with regular (non-LFS) files: the real client code runs against it over HTTP.

It checks the bearer token, keeps repositories in memory and stores each committed file's bytes,
so a test can compare what arrived with what was on disk.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Repo:
    private: bool
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)


class StandInHub:
    def __init__(self, token: str, known_models: tuple[str, ...] = ()):
        self.token = token
        self.known_models = set(known_models)  # what a card's base_model may name
        self.repos: dict[str, Repo] = {}
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> StandInHub:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output quiet
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _authorized(self) -> bool:
                if self.headers.get("Authorization") == f"Bearer {hub.token}":
                    return True
                self._body()
                self._reply(401, {"error": "Invalid credentials in Authorization header"})
                return False

            def do_GET(self):
                hub.requests.append(f"GET {self.path}")
                if not self._authorized():
                    return
                self._reply(404, {"error": "Repository not found"})

            def do_POST(self):
                hub.requests.append(f"POST {self.path}")
                if not self._authorized():
                    return
                parts = self.path.split("?")[0].strip("/").split("/")
                if parts[:3] == ["api", "repos", "create"]:
                    return self._create(json.loads(self._body()))
                if parts[:2] == ["api", "validate-yaml"]:
                    return self._validate(json.loads(self._body())["content"])
                # /api/models/{org}/{name}/{preupload|commit}/{revision}
                if len(parts) == 6 and parts[:2] == ["api", "models"]:
                    repo_id, action = f"{parts[2]}/{parts[3]}", parts[4]
                    if repo_id not in hub.repos:
                        self._body()
                        return self._reply(404, {"error": "Repository not found"})
                    if action == "preupload":
                        files = json.loads(self._body())["files"]
                        modes = [
                            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files
                        ]
                        return self._reply(200, {"files": modes})
                    if action == "commit":
                        return self._commit(repo_id, self._body())
                self._body()
                self._reply(404, {"error": f"no route {self.path}"})

            def _create(self, payload: dict) -> None:
                repo_id = f"{payload['organization']}/{payload['name']}"
                if repo_id in hub.repos:
                    return self._reply(
                        409, {"error": "You already created this model repo", "url": f"{hub.url}/{repo_id}"}
                    )
                hub.repos[repo_id] = Repo(private=payload.get("visibility") == "private")
                self._reply(200, {"url": f"{hub.url}/{repo_id}"})

            def _validate(self, content: str) -> None:
                """The hub checks a README's metadata before a commit; base_model must be a hub model."""
                from huggingface_hub import ModelCard

                base = ModelCard(content).data.base_model
                bases = base if isinstance(base, list) else [base] if base else []
                errors = [
                    {"message": f'"base_model" with value "{b}" is not a valid model ID'}
                    for b in bases
                    if b not in hub.known_models and b not in hub.repos
                ]
                self._reply(400 if errors else 200, {"errors": errors, "warnings": []})

            def _commit(self, repo_id: str, body: bytes) -> None:
                repo = hub.repos[repo_id]
                for line in body.decode().splitlines():
                    item = json.loads(line)
                    if item["key"] == "header":
                        repo.commits.append(item["value"]["summary"])
                    elif item["key"] == "file":
                        repo.files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                    else:
                        return self._reply(400, {"error": f"the stand-in does not take {item['key']}"})
                oid = hashlib.sha1(body).hexdigest()
                self._reply(200, {"commitUrl": f"{hub.url}/{repo_id}/commit/{oid}", "commitOid": oid})

        return Handler
