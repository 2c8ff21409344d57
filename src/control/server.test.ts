import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { silentLogger } from '../log/logger.ts';
import { testTempDir } from '../testing/temp-dir.ts';
import { controlRequest } from './client.ts';
import { ControlError } from './protocol.ts';
import { ControlServer, resolveGroup } from './server.ts';

function tmpSocket(): { dir: string; path: string } {
  const base = testTempDir('tsbgp-ctl-');
  const dir = join(base, 'run');
  return { dir, path: join(dir, 'tsbgp.sock') };
}

describe('control socket', () => {
  test('answers requests, errors with codes, and sets the modes', async () => {
    const { dir, path } = tmpSocket();
    const server = new ControlServer({
      path,
      log: silentLogger(),
      handlers: {
        echo: (p) => p,
        fail: () => {
          throw new ControlError('not-found', 'no neighbour 192.0.2.9');
        },
        crash: () => {
          throw new TypeError('boom');
        },
      },
    });
    await server.listen();
    try {
      assert.equal(statSync(path).mode & 0o777, 0o660);
      assert.equal(statSync(dir).mode & 0o777, 0o750);
      assert.ok(statSync(path).isSocket());
      assert.deepEqual(await controlRequest(path, 'echo', { a: 1 }), { a: 1 });
      await assert.rejects(controlRequest(path, 'fail'), (e: unknown) => {
        assert.ok(e instanceof ControlError);
        assert.equal(e.code, 'not-found');
        return true;
      });
      await assert.rejects(controlRequest(path, 'crash'), { code: 'internal', message: 'boom' });
      await assert.rejects(controlRequest(path, 'nope'), { code: 'bad-request' });
    } finally {
      await server.close();
    }
  });

  test('several requests on one connection are answered in order; malformed lines get an error', async () => {
    const { path } = tmpSocket();
    const server = new ControlServer({
      path,
      log: silentLogger(),
      handlers: {
        slow: async (p) => {
          await new Promise((r) => setTimeout(r, 30));
          return p.n;
        },
        fast: (p) => p.n,
      },
    });
    await server.listen();
    try {
      const answers = await new Promise<string[]>((resolve, reject) => {
        const sock = createConnection(path);
        let buf = '';
        sock.setEncoding('utf8');
        sock.on('data', (d: string) => {
          buf += d;
          const lines = buf.split('\n').filter(Boolean);
          if (lines.length === 3) {
            sock.destroy();
            resolve(lines);
          }
        });
        sock.on('error', reject);
        sock.write(
          '{"id":1,"method":"slow","params":{"n":1}}\n{"id":2,"method":"fast","params":{"n":2}}\nnot json\n',
        );
      });
      const parsed = answers.map((a) => JSON.parse(a) as { id: number | null; ok: boolean; result?: number });
      assert.deepEqual(parsed.slice(0, 2), [
        { id: 1, ok: true, result: 1 },
        { id: 2, ok: true, result: 2 },
      ]);
      assert.equal(parsed[2]!.id, null);
      assert.equal(parsed[2]!.ok, false);
    } finally {
      await server.close();
    }
  });

  test('a stale socket file is replaced; a live daemon is refused; other files are left alone', async () => {
    const { path } = tmpSocket();
    // A stale socket: bind, then close without unlinking (as after a crash).
    const first = new ControlServer({ path, log: silentLogger(), handlers: {} });
    await first.listen();
    const live = new ControlServer({ path, log: silentLogger(), handlers: {} });
    await assert.rejects(live.listen(), /another tsbgp daemon is running/);
    await first.close();

    // A crashed daemon leaves its socket file behind: a child listens and is killed with SIGKILL.
    const child = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
    ]);
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    child.kill('SIGKILL');
    await new Promise<void>((r) => child.once('exit', () => r()));
    assert.ok(statSync(path).isSocket(), 'the stale socket file is left behind');
    const again = new ControlServer({ path, log: silentLogger(), handlers: { ping: () => 'pong' } });
    await again.listen();
    assert.equal(await controlRequest(path, 'ping'), 'pong');
    await again.close();

    const { path: filePath, dir } = tmpSocket();
    mkdirSync(dir, { recursive: true });
    writeFileSync(filePath, 'not a socket');
    const refused = new ControlServer({ path: filePath, log: silentLogger(), handlers: {} });
    await assert.rejects(refused.listen(), /is not a socket/);
  });

  test('the socket and a created directory get the configured group', async () => {
    const { dir, path } = tmpSocket();
    const gid = process.getgid?.() ?? 0;
    const server = new ControlServer({ path, log: silentLogger(), handlers: {}, group: gid });
    await server.listen();
    try {
      assert.equal(statSync(path).gid, gid);
      assert.equal(statSync(dir).gid, gid);
    } finally {
      await server.close();
    }
  });

  test('group names resolve through the group file', async () => {
    const base = testTempDir('tsbgp-grp-');
    const file = join(base, 'group');
    writeFileSync(file, 'root:x:0:\nfrrvty:x:112:frr\ntsbgp:x:998:\n');
    assert.equal(await resolveGroup('tsbgp', file), 998);
    assert.equal(await resolveGroup('frrvty', file), 112);
    assert.equal(await resolveGroup(5, file), 5);
    await assert.rejects(resolveGroup('nobody-here', file), /does not exist/);
  });

  test('the client explains an absent daemon', async () => {
    const { path } = tmpSocket();
    await assert.rejects(controlRequest(path, 'show.neighbors'), (e: unknown) => {
      assert.ok(e instanceof ControlError);
      assert.equal(e.code, 'unavailable');
      assert.match(e.message, /no daemon is listening/);
      return true;
    });
  });
});
