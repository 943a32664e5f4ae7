#!/usr/bin/env python3
"""A third-party Coderoom client written only from the documented protocol (API.md):
Socket.IO v4 with python-socketio, handshake auth { token }, run:start with an ack, then
run:status / run:output / run:finished events. Prints one JSON line with what it received.

Usage: third_party_client.py <gateway url> <token> <language> <source>
"""
import json
import sys
import threading

import socketio

url, token, language, source = sys.argv[1:5]
done = threading.Event()
received = {"ack": None, "statuses": [], "outputs": [], "finished": None, "error": None}

sio = socketio.Client(reconnection=False)


@sio.on("run:status")
def on_status(e):
    received["statuses"].append(e)


@sio.on("run:output")
def on_output(e):
    received["outputs"].append(e)


@sio.on("run:finished")
def on_finished(e):
    received["finished"] = e
    done.set()


@sio.on("connect_error")
def on_connect_error(data):
    received["error"] = data
    done.set()


try:
    try:
        sio.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
    except socketio.exceptions.ConnectionError as e:
        received["error"] = received["error"] or str(e)
        print(json.dumps(received))
        sys.exit(3)
    received["ack"] = sio.call("run:start", {"language": language, "source": source}, timeout=10)
    if not received["ack"].get("ok"):
        done.set()
    done.wait(30)
    received["languages"] = sio.call("languages:list", {}, timeout=10)
finally:
    if sio.connected:
        sio.disconnect()
print(json.dumps(received))
