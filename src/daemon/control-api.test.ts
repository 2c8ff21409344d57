import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FileConfigSource } from '../config/source.ts';
import { controlRequest } from '../control/client.ts';
import { ControlServer } from '../control/server.ts';
import { silentLogger } from '../log/logger.ts';
import { testTempDir } from '../testing/temp-dir.ts';
import { daemonHandlers } from './control-api.ts';
import { Daemon } from './daemon.ts';
import { RecordingSpeaker } from './test-speaker.ts';

describe('control API over the socket', () => {
  test('show, neighbor actions and reload reach the daemon; bad parameters are refused', async () => {
    const dir = testTempDir('tsbgp-api-');
    const file = join(dir, 'c.yaml');
    writeFileSync(
      file,
      'asn: 65001\nrouterId: 192.0.2.1\nneighbors:\n  - name: tor\n    address: 192.0.2.9\n    asn: 65000\n',
    );
    let speaker: RecordingSpeaker | undefined;
    const daemon = new Daemon({
      source: new FileConfigSource(file),
      log: silentLogger(),
      createSpeaker: (c) => {
        speaker = new RecordingSpeaker(c);
        return speaker;
      },
    });
    await daemon.start();
    const path = join(dir, 's', 'tsbgp.sock');
    const server = new ControlServer({ path, handlers: daemonHandlers(daemon), log: silentLogger() });
    await server.listen();
    try {
      const ns = await controlRequest<{ name: string }[]>(path, 'show.neighbors');
      assert.deepEqual(
        ns.map((n) => n.name),
        ['tor'],
      );
      assert.equal(
        (await controlRequest<{ name: string }>(path, 'show.neighbor', { neighbor: '192.0.2.9' })).name,
        'tor',
      );
      await assert.rejects(controlRequest(path, 'show.neighbor', { neighbor: '192.0.2.1' }), {
        code: 'not-found',
      });
      await assert.rejects(controlRequest(path, 'show.neighbor', {}), { code: 'bad-request' });
      await assert.rejects(controlRequest(path, 'show.routes', { limit: -1 }), { code: 'bad-request' });
      await assert.rejects(
        controlRequest(path, 'neighbor.shutdown', { neighbor: 'tor', message: 'x'.repeat(256) }),
        /255 bytes/,
      );
      await controlRequest(path, 'neighbor.shutdown', { neighbor: 'tor', message: 'maintenance' });
      assert.deepEqual(speaker?.calls.at(-1), { op: 'shutdown', id: '192.0.2.9', message: 'maintenance' });
      await assert.rejects(controlRequest(path, 'show.mtu'), { code: 'unavailable' });
      // Soft refresh: refused while the session is down, reported per session once it is up.
      await assert.rejects(controlRequest(path, 'neighbor.refresh-in', { neighbor: 'tor' }), {
        code: 'unavailable',
        message: /session is Idle/,
      });
      speaker?.setState('192.0.2.9', 'Established');
      const out = await controlRequest<{ direction: string; refreshed: unknown[] }>(
        path,
        'neighbor.refresh-out',
        {
          neighbor: 'tor',
        },
      );
      assert.deepEqual(out.refreshed, [{ session: '192.0.2.9', families: ['ipv4-unicast'] }]);
      assert.equal(out.direction, 'out');
      await controlRequest(path, 'neighbor.refresh-in', { neighbor: '192.0.2.9' });
      assert.deepEqual(speaker?.calls.at(-1), { op: 'refresh', id: '192.0.2.9', direction: 'in' });
      await assert.rejects(controlRequest(path, 'neighbor.refresh-in', {}), { code: 'bad-request' });

      writeFileSync(
        file,
        'asn: 65001\nrouterId: 192.0.2.1\nneighbors:\n  - name: tor\n    address: 192.0.2.9\n    asn: nope\n',
      );
      await assert.rejects(controlRequest(path, 'reload'), (e: unknown) => {
        const err = e as { code: string; message: string; details: { path: string; line: number }[] };
        assert.equal(err.code, 'config');
        assert.deepEqual(
          err.details.map((d) => [d.path, d.line]),
          [['neighbors[0].asn', 6]],
        );
        return true;
      });
      writeFileSync(
        file,
        'asn: 65001\nrouterId: 192.0.2.1\nneighbors:\n  - name: tor\n    address: 192.0.2.9\n    asn: 65000\n    description: x\n',
      );
      const ok = await controlRequest<{ ok: boolean; summary: string }>(path, 'reload');
      assert.equal(ok.summary, 'updated tor (description)');
    } finally {
      await server.close();
      await daemon.stop();
    }
  });
});
