// The rtnetlink monitor, run as a child process of the daemon (see netlink-monitor.ts for why).
//
//   node --import tsx monitor-child.ts GROUPS RCVBUF IGNORE_PORT
//
// GROUPS is a comma list of RTNLGRP_* numbers. Notifications caused by requests from port
// IGNORE_PORT (the daemon's own request socket) are not forwarded, only their sequence numbers as
// progress, so our own bulk programming does not flood the pipe. Frames on stdout:
//   [u32 length][u8 kind][payload]   kind 0 = one netlink message, 1 = progress (u32 seq),
//                                    2 = ready (memberships joined)
// An overrun of the socket (ENOBUFS) kills this process (the addon cannot survive POLLERR); the
// parent treats the exit as lost events.
import { RtnlSocket } from './rtnl.ts';

const [groupsArg, rcvbufArg, ignorePortArg] = process.argv.slice(2);
const groups = (groupsArg ?? '').split(',').filter(Boolean).map(Number);
const ignorePort = Number(ignorePortArg ?? 0);

let pending: Buffer[] = [];
let scheduled = false;
let progressSeq = -1;

function frame(kind: number, payload: Buffer): Buffer {
  const f = Buffer.allocUnsafe(5 + payload.length);
  f.writeUInt32LE(1 + payload.length, 0);
  f.writeUInt8(kind, 4);
  payload.copy(f, 5);
  return f;
}

function flushSoon(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(() => {
    scheduled = false;
    if (progressSeq >= 0) {
      const p = Buffer.allocUnsafe(4);
      p.writeUInt32LE(progressSeq, 0);
      pending.push(frame(1, p));
      progressSeq = -1;
    }
    if (pending.length) process.stdout.write(Buffer.concat(pending));
    pending = [];
  });
}

const sock = new RtnlSocket({
  groups,
  recvBufferSize: Number(rcvbufArg ?? 8 << 20),
  onNotification: (m) => {
    const pid = m.buf.readUInt32LE(m.off - 4);
    if (ignorePort && pid === ignorePort) {
      progressSeq = m.seq;
    } else {
      pending.push(frame(0, m.buf.subarray(m.off - 16, m.end)));
    }
    flushSoon();
  },
  onOverrun: () => process.exit(3),
});

process.stdout.write(frame(2, Buffer.alloc(0)));
// The parent closing our stdin (or dying) ends us.
process.stdin.on('end', () => {
  sock.close();
  process.exit(0);
});
process.stdin.resume();
