"""Peer 1, the old stack: Flask-SocketIO on gevent (gevent-websocket) with a Redis queue.

serve:   python flask_gevent.py serve PORT REDIS_URL
publish: python flask_gevent.py publish REDIS_URL PAYLOAD_JSON COUNT RATE
"""

import sys

if sys.argv[1] == "serve":
    from gevent import monkey

    monkey.patch_all()

    from flask import Flask
    from flask_socketio import SocketIO

    port, redis_url = int(sys.argv[2]), sys.argv[3]
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="gevent", message_queue=redis_url, cors_allowed_origins="*")

    @socketio.on("connect", namespace="/running_logger")
    def connect(auth=None):
        return True

    @socketio.on("running_logger", namespace="/running_logger")
    def running_logger(data):
        pass  # the client contract's inbound event; unused here

    if __name__ == "__main__":
        print(f"listening on {port}", flush=True)
        socketio.run(app, host="127.0.0.1", port=port, log_output=False)
else:
    from flask_socketio import SocketIO

    del sys.argv[1]
    import pubcommon

    redis_url, payload, count, rate = pubcommon.args()
    external = SocketIO(message_queue=redis_url)  # write-only: no app, no server

    def send(update):
        external.emit("running_logger", update, namespace="/running_logger")

    pubcommon.publish_loop(send, payload, count, rate)
