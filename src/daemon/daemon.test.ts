import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { FileConfigSource } from '../config/source.ts';
import { createLogger } from '../log/logger.ts';
import { testTempDir } from '../testing/temp-dir.ts';
import { Daemon, type DaemonEvent } from './daemon.ts';
import { RecordingSpeaker } from './test-speaker.ts';

const base = `
asn: 65001
routerId: 192.0.2.1
neighbors:
  - name: tor-a
    address: 192.0.2.10
    asn: 65000
  - address: 192.0.2.11
    asn: 65000
  - address: 192.0.2.12
    asn: 65000
    shutdown: true
originate:
  - 10.1.0.0/24
`;

function setup(text = base) {
  const dir = testTempDir('tsbgp-daemon-');
  const file = join(dir, 'tsbgp.yaml');
  writeFileSync(file, text);
  const speakers: RecordingSpeaker[] = [];
  const logStream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  logStream.setEncoding('utf8').on('data', (d: string) => {
    for (const l of d.split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  const source = new FileConfigSource(file, { hostAddresses: () => [] });
  const daemon = new Daemon({
    source,
    log: createLogger({ stream: logStream, level: 'debug' }),
    logSpeakerEvents: true,
    createSpeaker: (config) => {
      const s = new RecordingSpeaker(config);
      speakers.push(s);
      return s;
    },
  });
  const events: DaemonEvent[] = [];
  daemon.events.subscribe((e) => events.push(e));
  return { file, source, daemon, speakers, lines, events, write: (t: string) => writeFileSync(file, t) };
}

describe('Daemon', () => {
  test('start adds every neighbour, originates, then starts the speaker', async () => {
    const { daemon, speakers } = setup();
    await daemon.start();
    assert.equal(speakers.length, 1);
    assert.deepEqual(speakers[0]!.calls, [
      { op: 'add', key: '192.0.2.10' },
      { op: 'add', key: '192.0.2.11' },
      { op: 'add', key: '192.0.2.12' },
      { op: 'originate', prefixes: ['10.1.0.0/24'] },
      { op: 'start' },
    ]);
    assert.equal(daemon.neighbor('tor-a').address, '192.0.2.10');
    assert.equal(daemon.neighbor('192.0.2.12').adminDown, true);
  });

  test('a bad config at start throws and starts nothing', async () => {
    const { daemon, speakers } = setup(
      'asn: 65001\nrouterId: 192.0.2.1\nneighbors:\n  - address: 1.2.3.4\n    asn: 0\n',
    );
    await assert.rejects(daemon.start(), /neighbors\[0\]\.asn/);
    assert.equal(speakers.length, 0);
  });

  test('reload applies only the difference', async () => {
    const { daemon, speakers, write, lines } = setup();
    await daemon.start();
    const s = speakers[0]!;
    s.calls.length = 0;
    write(`
asn: 65001
routerId: 192.0.2.1
neighbors:
  - name: tor-a
    address: 192.0.2.10
    asn: 65000
    description: rack 7
  - address: 192.0.2.11
    asn: 65000
    holdTime: 9
  - address: 192.0.2.12
    asn: 65000
  - address: 192.0.2.13
    asn: 65002
originate:
  - 10.1.0.0/24
  - 10.9.0.0/24
`);
    const r = await daemon.reload('test');
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(s.calls, [
      { op: 'update', key: '192.0.2.11', reset: true },
      { op: 'update', key: '192.0.2.10', reset: false },
      { op: 'update', key: '192.0.2.12', reset: false },
      { op: 'add', key: '192.0.2.13' },
      { op: 'originate', prefixes: ['10.1.0.0/24', '10.9.0.0/24'] },
    ]);
    assert.equal(speakers.length, 1, 'no new speaker');
    assert.ok(lines.some((l) => /configuration reloaded/.test(String(l.msg))));

    // Removing a neighbour sends it a Cease and leaves the others alone.
    s.calls.length = 0;
    write(`
asn: 65001
routerId: 192.0.2.1
neighbors:
  - name: tor-a
    address: 192.0.2.10
    asn: 65000
    description: rack 7
  - address: 192.0.2.11
    asn: 65000
    holdTime: 9
  - address: 192.0.2.12
    asn: 65000
originate:
  - 10.1.0.0/24
  - 10.9.0.0/24
`);
    const r2 = await daemon.reload('test');
    assert.ok(r2.ok);
    assert.deepEqual(s.calls, [
      { op: 'remove', key: '192.0.2.13', message: 'neighbor removed from configuration' },
    ]);
  });

  test('a change notice from the config source (SIGHUP) reloads', async () => {
    const { daemon, source, speakers, write, events } = setup();
    await daemon.start();
    write(base.replace('originate:\n', 'originate:\n  - 10.7.0.0/24\n'));
    source.notify('SIGHUP');
    await new Promise<void>((resolve) => {
      const sub = daemon.events.subscribe((e) => {
        if (e.type === 'reload') {
          sub.unsubscribe();
          resolve();
        }
      });
    });
    const reload = events.find((e) => e.type === 'reload');
    assert.ok(reload?.type === 'reload' && reload.reason === 'SIGHUP' && reload.result.ok);
    assert.deepEqual(speakers[0]!.calls.at(-1), {
      op: 'originate',
      prefixes: ['10.7.0.0/24', '10.1.0.0/24'],
    });
    await daemon.stop();
    source.notify('SIGHUP');
    assert.equal(events.filter((e) => e.type === 'reload').length, 1, 'no reload after stop');
  });

  test('an unchanged file changes nothing', async () => {
    const { daemon, speakers } = setup();
    await daemon.start();
    speakers[0]!.calls.length = 0;
    const r = await daemon.reload('SIGHUP');
    assert.deepEqual(r, { ok: true, summary: 'no changes', changed: false, warnings: [] });
    assert.deepEqual(speakers[0]!.calls, []);
  });

  test('a bad new config is refused and the running state is untouched', async () => {
    const { daemon, speakers, write, lines, events } = setup();
    await daemon.start();
    const before = JSON.stringify(daemon.currentConfig());
    speakers[0]!.calls.length = 0;
    write(base.replace('address: 192.0.2.11', 'address: 192.0.2.311'));
    const r = await daemon.reload('tsbgp reload');
    assert.equal(r.ok, false);
    assert.ok(!r.ok);
    assert.deepEqual(
      r.issues.map((i) => [i.path, i.line]),
      [['neighbors[1].address', 8]],
    );
    assert.match(r.error, /tsbgp\.yaml:8:\d+: neighbors\[1\]\.address: "192\.0\.2\.311" is not/);
    assert.deepEqual(speakers[0]!.calls, []);
    assert.equal(JSON.stringify(daemon.currentConfig()), before);
    await new Promise((r) => setImmediate(r));
    assert.ok(lines.some((l) => l.level === 50 && /reload refused/.test(String(l.msg))));
    assert.ok(events.some((e) => e.type === 'reload' && !e.result.ok));
    assert.equal(daemon.state().lastReload?.ok, false);
  });

  test('a router-id change restarts the speaker with the new config', async () => {
    const { daemon, speakers, write } = setup();
    await daemon.start();
    write(base.replace('routerId: 192.0.2.1', 'routerId: 192.0.2.2'));
    const r = await daemon.reload('test');
    assert.ok(r.ok);
    assert.equal(speakers.length, 2);
    assert.equal(speakers[0]!.stopped, true);
    assert.match((speakers[0]!.calls.at(-1) as { message: string }).message, /routerId/);
    assert.equal(speakers[1]!.config.routerId, '192.0.2.2');
    assert.equal(speakers[1]!.started, true);
  });

  test('state changes are logged with the peer and the reason', async () => {
    const { daemon, speakers, lines, events } = setup();
    await daemon.start();
    speakers[0]!.setState('192.0.2.10', 'Established', 'KeepaliveReceived');
    speakers[0]!.setState('192.0.2.10', 'Idle', 'HoldTimerExpired');
    await new Promise((r) => setImmediate(r));
    const up = lines.find((l) => l.msg === 'session Established');
    assert.equal(up?.peer, 'tor-a');
    assert.equal(up?.reason, 'KeepaliveReceived');
    const down = lines.find((l) => /session down/.test(String(l.msg)));
    assert.equal(down?.level, 40);
    assert.equal(down?.reason, 'HoldTimerExpired');
    assert.equal(events.filter((e) => e.type === 'speaker').length, 2);
  });

  test('operator actions find peers by name or address and reach the speaker', async () => {
    const { daemon, speakers } = setup();
    await daemon.start();
    speakers[0]!.calls.length = 0;
    await daemon.shutdownNeighbor('tor-a', 'maintenance');
    daemon.enableNeighbor('192.0.2.10');
    await daemon.resetNeighbor('192.0.2.11', undefined);
    assert.deepEqual(speakers[0]!.calls, [
      { op: 'shutdown', id: '192.0.2.10', message: 'maintenance' },
      { op: 'enable', id: '192.0.2.10' },
      { op: 'reset', id: '192.0.2.11', message: '' },
    ]);
    assert.throws(() => daemon.neighbor('192.0.2.99'), { name: 'NotFoundError' });
  });

  test('stop sends the shutdown to the speaker once, and reloads after stop are refused', async () => {
    const { daemon, speakers } = setup();
    await daemon.start();
    await Promise.all([daemon.stop(), daemon.stop()]);
    assert.equal(speakers[0]!.calls.filter((c) => c.op === 'stop').length, 1);
    const r = await daemon.reload('late');
    assert.equal(r.ok, false);
  });
});
