// The socket factory's SO_RCVBUF, read back from the kernel over loopback: accepted sockets
// inherit the listener's, outgoing ones get it once connected, and 0 leaves autotuning on.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Server, Socket } from 'node:net';
import { test } from 'node:test';
import { receiveBufferOf, setReceiveBuffer, socketFd } from './socket-options.ts';
import { createSocketFactory, RECEIVE_BUFFER } from './transport.ts';

async function pair(receiveBuffer?: number): Promise<{ server: Server; accepted: Socket; client: Socket }> {
  const factory = createSocketFactory(receiveBuffer === undefined ? {} : { receiveBuffer });
  let accept: (s: Socket) => void = () => {};
  const acceptedP = new Promise<Socket>((res) => {
    accept = res;
  });
  const server = await factory.listen({ address: '127.0.0.1', port: 0 }, (s) => accept(s));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  const client = factory.connect({ remoteAddress: '127.0.0.1', remotePort: address.port });
  await once(client, 'connect');
  return { server, accepted: await acceptedP, client };
}

function rcvbuf(s: Socket): number {
  const fd = socketFd(s);
  assert.ok(fd !== null, 'the socket has a descriptor');
  const v = receiveBufferOf(fd);
  assert.equal(typeof v, 'number', String(v));
  return v as number;
}

/** Streams `bytes` from client to accepted (read as fast as it comes), the case autotuning grows. */
async function stream(client: Socket, accepted: Socket, bytes: number): Promise<void> {
  let got = 0;
  const done = new Promise<void>((res) => {
    accepted.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= bytes) res();
    });
  });
  accepted.resume();
  const chunk = Buffer.alloc(1 << 16);
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!client.write(chunk)) await once(client, 'drain');
  }
  await done;
}

test('both ends of a BGP connection keep the fixed receive buffer under a bulk transfer', async () => {
  const { server, accepted, client } = await pair();
  try {
    // The kernel doubles the requested size for its bookkeeping (socket(7)).
    assert.equal(rcvbuf(client), 2 * RECEIVE_BUFFER);
    await stream(client, accepted, 64 << 20);
    assert.equal(rcvbuf(accepted), 2 * RECEIVE_BUFFER);
  } finally {
    client.destroy();
    accepted.destroy();
    server.close();
  }
});

test('receiveBuffer 0 leaves autotuning on: the same transfer grows the buffer', async () => {
  const { server, accepted, client } = await pair(0);
  try {
    await stream(client, accepted, 64 << 20);
    assert.ok(rcvbuf(accepted) > 2 * RECEIVE_BUFFER, `rcvbuf ${rcvbuf(accepted)} after the transfer`);
  } finally {
    client.destroy();
    accepted.destroy();
    server.close();
  }
});

test('a failed setsockopt is reported, not thrown', () => {
  // fd 2**30 is not open: EBADF.
  assert.match(String(setReceiveBuffer(2 ** 30, 4096)), /errno 9\b/);
});
