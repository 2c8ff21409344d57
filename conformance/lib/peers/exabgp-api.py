#!/usr/bin/env python3
# ExaBGP API process for the conformance driver (conformance/lib/peers/exabgp.ts).
# ExaBGP writes every received message and state change as one JSON line on our stdin: we append
# them to RX_FILE for the driver to read. The driver writes API commands (announce, teardown,
# route-refresh) one per line into the FIFO CMD_FIFO: we copy them to stdout, which ExaBGP reads.
import os
import sys
import threading

rx_path, cmd_fifo = sys.argv[1], sys.argv[2]


def forward_commands():
    while True:
        # Opening a FIFO for reading blocks until a writer appears; reopen after each writer closes.
        with open(cmd_fifo, 'r') as f:
            for line in f:
                sys.stdout.write(line if line.endswith('\n') else line + '\n')
                sys.stdout.flush()


threading.Thread(target=forward_commands, daemon=True).start()
with open(rx_path, 'a', buffering=1) as out:
    for line in sys.stdin:
        out.write(line)
os._exit(0)
