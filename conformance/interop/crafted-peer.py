#!/usr/bin/env python3
# A minimal BGP "peer" that sends exactly the bytes it is told to, for the RFC 7606 checks of the
# interop suite (conformance/interop/checks.ts). It knows nothing of BGP beyond the message header:
# the test builds every message (OPEN, KEEPALIVE, well-formed and malformed UPDATEs) by hand, so
# the bytes on the wire are independent of tsbgp's own codec.
#
#   crafted-peer.py LOCAL_ADDR REMOTE_ADDR CMD_FIFO RX_FILE
#
# It connects from LOCAL_ADDR to REMOTE_ADDR:179, then copies every hex line written to CMD_FIFO
# onto the socket as raw bytes. Every message received is appended to RX_FILE as one JSON line
# ({"type": N, "code": C, "subcode": S} for a NOTIFICATION); {"closed": true} when the connection
# ends. A KEEPALIVE is sent every 10 s once the test has sent the first one, so the session lives
# as long as the test wants it to.
import json
import os
import socket
import sys
import threading
import time

local, remote, cmd_fifo, rx_path = sys.argv[1:5]
KEEPALIVE = bytes([0xFF] * 16) + bytes([0, 19, 4])

sock = socket.create_connection((remote, 179), timeout=10, source_address=(local, 0))
sock.settimeout(None)
send_lock = threading.Lock()
keepalives = threading.Event()
rx = open(rx_path, 'a', buffering=1)


def log(obj):
    obj['at'] = time.time()
    rx.write(json.dumps(obj) + '\n')


def reader():
    buf = b''
    while True:
        try:
            chunk = sock.recv(65536)
        except OSError:
            chunk = b''
        if not chunk:
            log({'closed': True})
            return
        buf += chunk
        while len(buf) >= 19:
            length = int.from_bytes(buf[16:18], 'big')
            if length < 19 or len(buf) < length:
                break
            msg, buf = buf[:length], buf[length:]
            entry = {'type': msg[18], 'length': length}
            if msg[18] == 3 and length >= 21:
                entry['code'] = msg[19]
                entry['subcode'] = msg[20]
                entry['data'] = msg[21:].hex()
            log(entry)


def keepalive_loop():
    keepalives.wait()
    while True:
        with send_lock:
            try:
                sock.sendall(KEEPALIVE)
            except OSError:
                return
        time.sleep(10)


threading.Thread(target=reader, daemon=True).start()
threading.Thread(target=keepalive_loop, daemon=True).start()
# The FIFO is opened read-write, once: holding its write end ourselves, we never read EOF and
# never close it, so a writer always finds a reader. Reopening after each writer's EOF, as before,
# raced: a writer could open while we still held the old descriptor and then write after we closed
# it (EPIPE in the harness, seen once in the ExaBGP lab).
with os.fdopen(os.open(cmd_fifo, os.O_RDWR), 'r') as f:
    for line in f:
        data = bytes.fromhex(line.strip())
        if not data:
            continue
        with send_lock:
            sock.sendall(data)
        if data[18] == 4:
            keepalives.set()
