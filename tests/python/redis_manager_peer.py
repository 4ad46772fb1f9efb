"""Chapter 6's python-socketio peer: a server on RedisManager (threading
mode, a threaded wsgiref server on loopback) with one python-socketio
client, polling only, put in room `lobby`. Prints `ready` once the client
is in the room and the manager listens on Redis, then `got <event> <JSON>`
for the first event the client receives, and exits (status 1 after 20 s).

    python redis_manager_peer.py redis://127.0.0.1:PORT
"""

import json
import os
import sys
import threading
import time
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import socketio


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def main():
    url = sys.argv[1]
    threading.Timer(20, lambda: (print("timeout", flush=True), os._exit(1))).start()
    sio = socketio.Server(client_manager=socketio.RedisManager(url), async_mode="threading")

    @sio.event
    def connect(sid, environ, auth=None):
        sio.enter_room(sid, "lobby")

    httpd = make_server("127.0.0.1", 0, socketio.WSGIApp(sio), ThreadingWSGIServer, Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    client = socketio.Client()

    @client.on("*")
    def any_event(event, *args):
        print("got %s %s" % (event, json.dumps(list(args), ensure_ascii=False)), flush=True)
        os._exit(0)

    client.connect("http://127.0.0.1:%d" % httpd.server_port, transports=["polling"])
    # The manager subscribes from a background thread started on the first
    # connection: wait until Redis counts it.
    import redis

    r = redis.Redis.from_url(url)
    while r.pubsub_numsub("socketio")[0][1] < 1:
        time.sleep(0.02)
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
