"""A stand-in Kubernetes API server for tests (Debian ships no kube-apiserver).

Serves real-shaped JSON for Namespaces, Services, Pods (core/v1) and
EndpointSlices (discovery.k8s.io/v1) with the list and watch semantics a
client-go reflector relies on:

* lists carry metadata.resourceVersion and paginate with limit/continue;
* ?watch=true streams newline-delimited {"type", "object"} events as chunked
  transfer encoding from a resourceVersion, with BOOKMARK events when
  allowWatchBookmarks is set, and ends after timeoutSeconds;
* a resourceVersion older than the kept history gets an ERROR event holding a
  410 Expired Status (what the watch cache sends); an expired continue token
  gets HTTP 410;
* labelSelector (the canonical form: k=v, k!=v, k, !k, k in (..), k notin (..))
  and fieldSelector (path=v, path==v, path!=v, comma-joined: `status.phase`
  for pods, `metadata.name`, `metadata.namespace`) filter lists and watches, an
  object leaving the selection being DELETED;
* optional TLS with a client-certificate requirement, and a bearer token.

Tests drive it in-process (FakeApiServer methods: apply, delete, compact,
drop_watches, stop/start keeping the port and the data) or over HTTP on the
same port: POST /_control/{apply,delete,compact,drop} with a JSON body.
`python3 fake_apiserver.py --port 8001 --fixture cluster.json` runs it alone.
"""
import argparse
import base64
import bisect
import copy
import http.server
import json
import re
import socket
import ssl
import threading
import time
import urllib.parse
import uuid

RESOURCES = {
    # path: (resource, list kind, apiVersion, namespaced)
    "/api/v1/namespaces": ("namespaces", "NamespaceList", "v1", False),
    "/api/v1/services": ("services", "ServiceList", "v1", True),
    "/api/v1/pods": ("pods", "PodList", "v1", True),
    "/apis/discovery.k8s.io/v1/endpointslices": ("endpointslices", "EndpointSliceList",
                                                  "discovery.k8s.io/v1", True),
}
KINDS = {"Namespace": "namespaces", "Service": "services", "Pod": "pods",
         "EndpointSlice": "endpointslices"}


def parse_selector(text):
    """Canonical label selector -> list of predicates on a labels dict."""
    preds = []
    for req in re.split(r",(?![^()]*\))", text or ""):
        req = req.strip()
        if not req:
            continue
        m = re.fullmatch(r"(\S+)\s+(in|notin)\s+\(([^)]*)\)", req)
        if m:
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if op == "in":
                preds.append(lambda l, k=key, v=values: l.get(k) in v)
            else:
                preds.append(lambda l, k=key, v=values: l.get(k) not in v)
        elif req.startswith("!"):
            preds.append(lambda l, k=req[1:]: k not in l)
        elif "!=" in req:
            key, value = req.split("!=", 1)
            preds.append(lambda l, k=key, v=value: l.get(k) != v)
        elif "=" in req:
            key, value = req.replace("==", "=").split("=", 1)
            preds.append(lambda l, k=key, v=value: l.get(k) == v)
        else:
            preds.append(lambda l, k=req: k in l)
    return lambda obj: all(p(obj["metadata"].get("labels") or {}) for p in preds)


def parse_field_selector(text):
    """Field selector -> predicate on an object (dotted paths, =, == and !=)."""
    preds = []
    for req in (text or "").split(","):
        req = req.strip()
        if not req:
            continue
        negate = "!=" in req
        path, value = re.split(r"!=|==|=", req, maxsplit=1)

        def get(obj, path=path):
            for part in path.split("."):
                obj = obj.get(part) if isinstance(obj, dict) else None
            return "" if obj is None else str(obj)
        preds.append(lambda o, g=get, v=value, n=negate: (g(o) != v) if n else (g(o) == v))
    return lambda obj: all(p(obj) for p in preds)


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Store:
    """Objects by resource and (namespace, name), plus the event history."""

    def __init__(self, history_limit=100000):
        self.cond = threading.Condition()
        self.rv = 1
        self.floor = 1  # watches from a resourceVersion below this are expired
        self.objects = {r[0]: {} for r in RESOURCES.values()}
        self.history = []  # (rv, resource, type, object, previous object)
        self.history_rvs = []
        self.history_limit = history_limit
        self.changed_at = {}  # (resource, namespace, name) -> monotonic time of the last change

    def _event(self, resource, type_, obj, old):
        self.history.append((self.rv, resource, type_, obj, old))
        self.history_rvs.append(self.rv)
        if len(self.history) > self.history_limit:
            self.floor = self.history_rvs[0]
            del self.history[0], self.history_rvs[0]
        self.cond.notify_all()

    def apply(self, obj):
        """Creates or replaces one object (ADDED or MODIFIED); returns its resourceVersion."""
        resource = KINDS[obj["kind"]]
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        key = (meta.get("namespace", ""), meta["name"])
        with self.cond:
            old = self.objects[resource].get(key)
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            meta.setdefault("uid", old["metadata"]["uid"] if old else str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            self.objects[resource][key] = obj
            self.changed_at[(resource,) + key] = time.monotonic()
            self._event(resource, "MODIFIED" if old else "ADDED", obj, old)
            return self.rv

    def delete(self, resource, namespace, name):
        with self.cond:
            old = self.objects[resource].pop((namespace, name))
            self.rv += 1
            gone = copy.deepcopy(old)
            gone["metadata"]["resourceVersion"] = str(self.rv)
            self.changed_at[(resource, namespace, name)] = time.monotonic()
            self._event(resource, "DELETED", gone, old)
            return self.rv

    def compact(self):
        """Forgets the history: every watch from an older resourceVersion gets 410."""
        with self.cond:
            self.floor = self.rv
            self.history.clear()
            self.history_rvs.clear()


class FakeApiServer:
    def __init__(self, port=0, host="127.0.0.1", certfile=None, keyfile=None, client_ca=None,
                 token=None, bookmark_interval=1.0, history_limit=100000):
        self.store = Store(history_limit)
        self.host = host
        self.port = port
        self.token = token
        self.bookmark_interval = bookmark_interval
        self.tls = None
        if certfile:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(certfile, keyfile)
            if client_ca:
                self.tls.verify_mode = ssl.CERT_REQUIRED
                self.tls.load_verify_locations(client_ca)
        self.requests = []  # (path, query dict) of every API request, in order
        self._generation = 0  # bumped to drop every open watch
        self._server = None
        self._thread = None

    # --- lifecycle -------------------------------------------------------

    @property
    def url(self):
        return "%s://%s:%d" % ("https" if self.tls else "http", self.host, self.port)

    def start(self):
        """Listens (again, on the same port after stop) and serves."""
        handler = type("Handler", (_Handler,), {"api": self})
        server = http.server.ThreadingHTTPServer((self.host, self.port), handler, bind_and_activate=False)
        server.daemon_threads = True
        server.allow_reuse_address = True
        server.server_bind()
        server.server_activate()
        if self.tls:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Goes away as a crashed API server does: the port refuses connections
        and open watches break. The data stays for start()."""
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None
        self.drop_watches()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- data ------------------------------------------------------------

    def load(self, cluster):
        """Adds every object of a cluster.json-shaped dict."""
        for resource in ("namespaces", "services", "endpointslices", "pods"):
            for obj in cluster.get(resource, []):
                self.apply(obj)

    def apply(self, obj):
        return self.store.apply(obj)

    def delete(self, resource, namespace, name):
        return self.store.delete(resource, namespace, name)

    def compact(self):
        self.store.compact()

    def drop_watches(self):
        """Breaks every open watch connection mid-stream."""
        with self.store.cond:
            self._generation += 1
            self.store.cond.notify_all()

    def watch_requests(self, resource_path):
        return [q for p, q in self.requests if p == resource_path and q.get("watch") in ("1", "true")]

    def list_requests(self, resource_path):
        return [q for p, q in self.requests if p == resource_path and q.get("watch") not in ("1", "true")]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    api = None  # set per server

    def log_message(self, *args):
        pass

    def _json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        store = self.api.store
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        action = self.path.rsplit("/", 1)[-1]
        if action == "apply":
            for obj in body if isinstance(body, list) else [body]:
                store.apply(obj)
        elif action == "delete":
            store.delete(body["resource"], body.get("namespace", ""), body["name"])
        elif action == "compact":
            store.compact()
        elif action == "drop":
            self.api.drop_watches()
        else:
            return self._json(404, status(404, "NotFound", "no such control action"))
        self._json(200, {"resourceVersion": str(store.rv)})

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        if self.api.token and self.headers.get("Authorization") != "Bearer " + self.api.token:
            return self._json(401, status(401, "Unauthorized", "Unauthorized"))
        if url.path not in RESOURCES:
            return self._json(404, status(404, "NotFound", "the server could not find the requested resource"))
        self.api.requests.append((url.path, query))
        resource, list_kind, api_version, _ = RESOURCES[url.path]
        labels = parse_selector(query.get("labelSelector"))
        fields = parse_field_selector(query.get("fieldSelector"))

        def selector(obj):
            return labels(obj) and fields(obj)
        if query.get("watch") in ("1", "true"):
            return self._watch(resource, api_version, selector, query)
        return self._list(resource, list_kind, api_version, selector, query)

    def _list(self, resource, list_kind, api_version, selector, query):
        store = self.api.store
        with store.cond:
            items = [o for _, o in sorted(store.objects[resource].items()) if selector(o)]
            rv = store.rv
        offset = 0
        if query.get("continue"):
            token = json.loads(base64.urlsafe_b64decode(query["continue"]))
            if token["rv"] < store.floor:
                return self._json(410, status(410, "Expired", "The provided continue parameter is too old "
                                                   "to display a consistent list result."))
            offset = token["offset"]
        limit = int(query.get("limit") or 0) or len(items) + 1
        page = items[offset:offset + limit]
        meta = {"resourceVersion": str(rv)}
        if offset + limit < len(items):
            meta["continue"] = base64.urlsafe_b64encode(
                json.dumps({"rv": rv, "offset": offset + limit}).encode()).decode()
            meta["remainingItemCount"] = len(items) - offset - limit
        self._json(200, {"kind": list_kind, "apiVersion": api_version, "metadata": meta, "items": page})

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _send_event(self, type_, obj):
        self._chunk(json.dumps({"type": type_, "object": obj}).encode() + b"\n")

    def _watch(self, resource, api_version, selector, query):
        api, store = self.api, self.api.store
        since = int(query.get("resourceVersion") or store.rv)
        deadline = time.monotonic() + int(query.get("timeoutSeconds") or 1800)
        bookmarks = query.get("allowWatchBookmarks") in ("1", "true")
        generation = api._generation
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            if since < store.floor:
                self._send_event("ERROR", status(410, "Expired", "too old resource version: %d (%d)"
                                                 % (since, store.floor)))
                self._chunk(b"")
                return
            next_bookmark = time.monotonic() + api.bookmark_interval
            while True:
                with store.cond:
                    while True:
                        if api._generation != generation:
                            # Dropped: close without the final chunk, as a broken connection.
                            self.close_connection = True
                            self.connection.shutdown(socket.SHUT_RDWR)
                            return
                        start = bisect.bisect_right(store.history_rvs, since)
                        events = [e for e in store.history[start:] if e[1] == resource]
                        since = store.history_rvs[-1] if store.history_rvs else since
                        now = time.monotonic()
                        if events or now >= deadline or (bookmarks and now >= next_bookmark):
                            break
                        store.cond.wait(min(deadline, next_bookmark if bookmarks else deadline) - now)
                    current = store.rv
                for rv, _, type_, obj, old in events:
                    was, now_in = old is not None and selector(old), selector(obj) if type_ != "DELETED" else False
                    if type_ == "DELETED":
                        if was:
                            self._send_event("DELETED", obj)
                    elif now_in:
                        self._send_event("MODIFIED" if was else "ADDED", obj)
                    elif was:
                        self._send_event("DELETED", obj)
                if time.monotonic() >= deadline:
                    self._chunk(b"")
                    return
                if bookmarks and time.monotonic() >= next_bookmark:
                    self._send_event("BOOKMARK", {"kind": "Bookmark", "apiVersion": api_version,
                                                  "metadata": {"resourceVersion": str(current)}})
                    next_bookmark = time.monotonic() + api.bookmark_interval
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--fixture", help="cluster.json-shaped objects to start with")
    args = parser.parse_args()
    api = FakeApiServer(port=args.port)
    if args.fixture:
        with open(args.fixture) as f:
            api.load(json.load(f))
    api.start()
    print("serving", api.url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
