import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { BgpFrameReader, decodeMessage } from '../bgp/codec/index.ts';
import { ID_TABLE_INITIAL } from '../bgp/id-table.ts';
import { DEFAULTS } from '../config/defaults.ts';
import { parseConfig } from '../config/loader.ts';
import { createLogger } from '../log/logger.ts';
import { WARM_SETS, warmUp, warmUpTable } from './warm-up.ts';

const codec = { fourOctetAs: true, extendedMessage: false, addPath: new Set<never>() };

describe('start-up warm-up', () => {
  test('the synthetic table holds the asked number of distinct, valid prefixes, shaped like a real table', () => {
    const n = 3000;
    const frames = warmUpTable(n, 0x7f000001);
    const seen = new Set<string>();
    const addressOctets = new Set<number>();
    for (const f of frames) {
      assert.equal(BgpFrameReader.frameType(f), 2);
      const m = decodeMessage(f, codec);
      assert.ok(m.ok, m.ok ? '' : m.error.reason);
      assert.equal(m.value.type, 'update');
      if (m.value.type !== 'update') continue;
      assert.deepEqual(m.value.errors, []);
      const nlri = m.value.nlri;
      // A few prefixes per UPDATE, as a real speaker sends a full table.
      assert.ok(nlri.count >= 1 && nlri.count <= 4, `${nlri.count} prefixes in one UPDATE`);
      for (let i = 0; i < nlri.count; i++) {
        seen.add(`${nlri.words[i]}/${nlri.lengths[i]}`);
        addressOctets.add((nlri.lengths[i]! + 7) >> 3);
      }
    }
    assert.equal(seen.size, n);
    assert.equal(frames.length, n / 4);
    assert.deepEqual([...addressOctets].sort(), [2, 3, 4]);
  });

  test('the table carries more attribute sets than the id-indexed tables start with, so each grows in the warm-up', () => {
    const communities = new Set<number>();
    for (const f of warmUpTable(50_000, 0x7f000001)) {
      const m = decodeMessage(f, codec);
      if (m.ok && m.value.type === 'update') communities.add(m.value.attributes.communities?.[0] ?? -1);
    }
    assert.equal(communities.size, WARM_SETS);
    assert.ok(WARM_SETS > ID_TABLE_INITIAL, `${WARM_SETS} sets, tables start at ${ID_TABLE_INITIAL}`);
  });

  test('a table runs through a scratch speaker and is withdrawn again; the daemon logs nothing of it', async () => {
    const out = new PassThrough();
    let logged = '';
    out.on('data', (c: Buffer) => {
      logged += c.toString();
    });
    const log = createLogger({ stream: out, level: 'trace', format: 'json' });
    const r = await warmUp(5000, log);
    assert.equal(r.ok, true, r.reason);
    assert.equal(r.routes, 5000);
    assert.ok(r.ms > 0);
    // The full collection runs inside the warm-up, before its scratch stack is torn down.
    assert.ok((r.gcMs ?? 0) > 0, `gcMs ${r.gcMs}`);
    // The scratch speaker's sessions are not the operator's: its logger is silenced.
    assert.equal(logged, '');
  });

  test('the config turns it off with routes: 0 and defaults to 50,000 routes', () => {
    const base = 'asn: 65000\nrouterId: 10.0.0.1\n';
    assert.equal(parseConfig(base, 't.yaml').warmUpRoutes, DEFAULTS.warmUpRoutes);
    assert.equal(DEFAULTS.warmUpRoutes, 50_000);
    assert.equal(parseConfig(`${base}warmUp: { routes: 0 }\n`, 't.yaml').warmUpRoutes, 0);
    assert.throws(() => parseConfig(`${base}warmUp: { routes: -1 }\n`, 't.yaml'), /warmUp\.routes/);
    // The young-generation keeper (young-generation.ts) is on unless turned off.
    assert.equal(parseConfig(base, 't.yaml').warmUpKeepWarm, true);
    assert.equal(parseConfig(`${base}warmUp: { keepWarm: false }\n`, 't.yaml').warmUpKeepWarm, false);
    assert.throws(() => parseConfig(`${base}warmUp: { keepWarm: 1 }\n`, 't.yaml'), /warmUp\.keepWarm/);
  });
});
