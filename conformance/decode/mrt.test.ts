// The MRT reader against bgpdump (the RIPE NCC reference reader) on the MRT fixtures that BIRD 2
// (TABLE_DUMP_V2, with and without RFC 8050 ADD-PATH) and GoBGP (BGP4MP_MESSAGE_AS4[_ADDPATH])
// wrote: every RIB entry and every announced prefix, with peer, path id, AS path, origin, next
// hop, LOCAL_PREF, MED and communities.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createReadStream, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  asPathSegments,
  formatIPv4,
  formatNextHop,
  type PathAttributes,
  prefixListToStrings,
} from '../../src/bgp/codec/index.ts';
import { type MrtRecord, streamMrtRecords } from '../../src/bgp/mrt/index.ts';

const MRT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'mrt');

interface Row {
  kind: string;
  peer: string;
  peerAs: string;
  prefix: string;
  pathId?: string;
  asPath: string;
  origin: string;
  nextHop: string;
  localPref: string;
  med: string;
  communities: string;
}

/** bgpdump -m: TYPE|time|B/A/W|peer|peer AS|prefix|[path id|]as path|origin|next hop|lp|med|communities|... */
function parseBgpdump(line: string): Row {
  const f = line.split('|');
  const ap = (f[0] ?? '').endsWith('_AP');
  const o = ap ? 1 : 0;
  const row: Row = {
    kind: f[0] ?? '',
    peer: f[3] ?? '',
    peerAs: f[4] ?? '',
    prefix: f[5] ?? '',
    asPath: f[6 + o] ?? '',
    origin: f[7 + o] ?? '',
    nextHop: f[8 + o] ?? '',
    localPref: f[9 + o] ?? '',
    med: f[10 + o] ?? '',
    communities: f[11 + o] ?? '',
  };
  if (ap) row.pathId = f[6] ?? '';
  return row;
}

function asPathText(a: PathAttributes): string {
  return a.asPath
    ? asPathSegments(a.asPath)
        .flatMap((s) => s.asns)
        .join(' ')
    : '';
}

function communitiesText(a: PathAttributes): string {
  return [...(a.communities ?? [])].map((c) => `${c >>> 16}:${c & 0xffff}`).join(' ');
}

/** Our rows, in bgpdump's order, plus the attribute codes our decoder flagged for each. */
function ourRows(records: MrtRecord[]): { row: Row; flagged: Set<number> }[] {
  const out: { row: Row; flagged: Set<number> }[] = [];
  for (const r of records) {
    if (r.kind === 'rib') {
      const prefix = prefixListToStrings(r.prefix)[0] ?? '';
      for (const e of r.entries) {
        assert.ok(
          e.attributes.ok,
          `RIB entry for ${prefix}: ${e.attributes.ok ? '' : e.attributes.error.reason}`,
        );
        const a = e.attributes.value.attributes;
        const nh =
          a.nextHop !== undefined
            ? formatIPv4(a.nextHop)
            : a.mpReach
              ? formatNextHop(a.mpReach.nextHop).split(' ')[0]
              : '';
        const row: Row = {
          kind: r.addPath ? 'TABLE_DUMP2_AP' : 'TABLE_DUMP2',
          peer: e.peer?.address ?? '',
          peerAs: String(e.peer?.asn ?? ''),
          prefix,
          asPath: asPathText(a),
          origin: a.origin === undefined ? '' : (['IGP', 'EGP', 'INCOMPLETE'][a.origin] ?? ''),
          nextHop: nh ?? '',
          localPref: a.localPref === undefined ? '' : String(a.localPref),
          med: a.med === undefined ? '' : String(a.med),
          communities: communitiesText(a),
        };
        if (e.pathId !== undefined) row.pathId = String(e.pathId);
        out.push({ row, flagged: new Set(e.attributes.value.errors.map((x) => x.attributeCode)) });
      }
    } else if (r.kind === 'bgp4mp-message') {
      assert.ok(r.message.ok, `BGP4MP message: ${r.message.ok ? '' : r.message.error.reason}`);
      const m = r.message.value;
      if (m.type !== 'update') continue;
      const a = m.attributes;
      const reachNh = a.mpReach ? (formatNextHop(a.mpReach.nextHop).split(' ')[0] ?? '') : '';
      const announce = (list: typeof m.nlri, nh: string) => {
        const text = prefixListToStrings(list);
        text.forEach((prefix, i) => {
          const row: Row = {
            kind: r.addPath ? 'BGP4MP_AP' : 'BGP4MP',
            peer: r.peerAddress,
            peerAs: String(r.peerAs),
            prefix,
            asPath: asPathText(a),
            origin: a.origin === undefined ? '' : (['IGP', 'EGP', 'INCOMPLETE'][a.origin] ?? ''),
            nextHop: nh,
            localPref: a.localPref === undefined ? '' : String(a.localPref),
            med: a.med === undefined ? '' : String(a.med),
            communities: communitiesText(a),
          };
          if (list.pathIds) row.pathId = String(list.pathIds[i]);
          out.push({ row, flagged: new Set(m.errors.map((x) => x.attributeCode)) });
        });
      };
      announce(m.nlri, a.nextHop !== undefined ? formatIPv4(a.nextHop) : '');
      if (a.mpReach?.nlri) announce(a.mpReach.nlri, reachNh);
    }
  }
  return out;
}

const fixtures = readdirSync(MRT_DIR)
  .filter((f) => f.endsWith('.mrt'))
  .sort();
const haveBgpdump = spawnSync('bgpdump', ['-T']).error === undefined;

describe('the MRT reader agrees with bgpdump on every MRT fixture', {
  skip: !haveBgpdump && 'bgpdump not installed',
}, () => {
  test('there are fixtures of each kind', () => {
    assert.ok(
      fixtures.some((f) => f.startsWith('bird-')),
      'a TABLE_DUMP_V2 fixture',
    );
    assert.ok(
      fixtures.some((f) => f.includes('updates')),
      'a BGP4MP fixture',
    );
  });
  for (const file of fixtures) {
    test(file, async () => {
      const path = join(MRT_DIR, file);
      const records: MrtRecord[] = [];
      // Small chunks exercise the streaming parser's record boundaries.
      for await (const r of streamMrtRecords(createReadStream(path, { highWaterMark: 7 }))) records.push(r);
      assert.deepEqual(
        records.filter((r) => r.kind === 'error' || r.kind === 'unsupported'),
        [],
      );
      const dump = spawnSync('bgpdump', ['-m', path], { encoding: 'utf8' });
      assert.equal(dump.status, 0, dump.stderr);
      const theirs = dump.stdout.trim().split('\n').filter(Boolean).map(parseBgpdump);
      const ours = ourRows(records);
      assert.equal(ours.length, theirs.length, 'entry count');
      ours.forEach(({ row, flagged }, i) => {
        const t = theirs[i];
        assert.ok(t);
        const where = `${file} entry ${i} (${t.prefix})`;
        assert.equal(row.kind, t.kind, `${where} kind`);
        assert.equal(row.peer, t.peer, `${where} peer`);
        assert.equal(row.peerAs, t.peerAs, `${where} peer AS`);
        assert.equal(row.prefix, t.prefix, `${where} prefix`);
        assert.equal(row.pathId, t.pathId, `${where} path id`);
        assert.equal(row.asPath, t.asPath, `${where} AS path`);
        // bgpdump prints defaults for absent attributes (INCOMPLETE, 0, 255.255.255.255 for BIRD's local routes).
        if (row.origin) assert.equal(row.origin, t.origin, `${where} origin`);
        if (row.med) assert.equal(row.med, t.med, `${where} MED`);
        assert.equal(row.communities, t.communities, `${where} communities`);
        // BIRD writes NEXT_HOP and LOCAL_PREF with flags 0x00 in its dumps; in MRT mode the codec
        // accepts them as bgpdump does, so nothing may be flagged.
        assert.equal(flagged.size, 0, `${where} attributes flagged: ${[...flagged].join(',')}`);
        if (row.nextHop) assert.equal(row.nextHop, t.nextHop, `${where} next hop`);
        if (row.localPref) assert.equal(row.localPref, t.localPref, `${where} LOCAL_PREF`);
      });
    });
  }
});
