// `tsbgp decode --json` against Wireshark's dissector on every fixture capture: the same messages,
// in the same frames, with the same header fields, OPEN fields and capabilities, prefixes and
// path attributes. Each decoded message is also re-encoded with the codec and must give back the
// captured bytes exactly.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BgpMessage, type CodecOptions, encodeMessage } from '../../src/bgp/codec/index.ts';
import { decodeInput, type Json } from '../../src/cli/commands/decode.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PCAP_DIR = join(ROOT, 'conformance', 'fixtures', 'pcap');
const BIN = join(ROOT, 'bin', 'tsbgp.js');

type Obj = { [k: string]: Json };
type Pair = [string, string];

/** Leaf fields of a tshark JSON subtree, in document order. */
function flatten(v: unknown, out: Pair[] = []): Pair[] {
  if (Array.isArray(v)) for (const x of v) flatten(x, out);
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === 'string') out.push([k, x]);
      else if (Array.isArray(x) && x.every((y) => typeof y === 'string'))
        for (const y of x) out.push([k, y as string]);
      else flatten(x, out);
    }
  }
  return out;
}

const all = (pairs: Pair[], key: string) => pairs.filter(([k]) => k === key).map(([, v]) => v);
const first = (pairs: Pair[], key: string) => pairs.find(([k]) => k === key)?.[1];
const asArray = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Prefixes ("addr/len" or "addr/len#pathid") in a flattened subtree. */
function prefixes(pairs: Pair[]): string[] {
  const out: string[] = [];
  let len = '';
  let pathId: string | undefined;
  for (const [k, v] of pairs) {
    if (k === 'bgp.nlri_path_id') pathId = v;
    else if (k === 'bgp.prefix_length') len = v;
    else if (/^bgp\.(nlri_prefix|withdrawn_prefix|mp_(un)?reach_nlri_ipv[46]_prefix)$/.test(k)) {
      out.push(`${v}/${len}${pathId !== undefined ? `#${pathId}` : ''}`);
      pathId = undefined;
    }
  }
  return out.sort();
}

function oursPrefixes(list: Json | undefined): string[] {
  return asArray(list)
    .map((p) => (typeof p === 'string' ? p : `${(p as Obj).prefix}#${(p as Obj).pathId}`))
    .sort();
}

function asns(pathJson: Json | undefined): number[] {
  return asArray(pathJson).flatMap((s) => (s as { asns: number[] }).asns);
}

/** RFC 6793 §4.2.3: AS_PATH's leading ASNs, then AS4_PATH, when AS4_PATH is not longer. */
function mergeAs4(asPath: number[], as4Path: number[] | undefined): number[] {
  if (!as4Path || as4Path.length > asPath.length) return asPath;
  return [...asPath.slice(0, asPath.length - as4Path.length), ...as4Path];
}

function oa0(o: Obj): Obj {
  return (o.attributes ?? {}) as Obj;
}

function compareUpdate(t: Obj, o: Obj, where: string): void {
  const pairsByType = new Map<number, Pair[]>();
  const attrs = (t['bgp.update.path_attributes'] as Obj | undefined)?.['bgp.update.path_attribute'];
  // Attributes our decoder found malformed (RFC 7606) are not in its output; tshark shows what
  // it could parse of them. Those are checked through the error list instead.
  const flagged = new Set(asArray(o.errors).map((e) => (e as Obj).attributeCode as number));
  for (const a of asArray(attrs)) {
    const pairs = flatten(a);
    const code = Number(first(pairs, 'bgp.update.path_attribute.type_code'));
    if (flagged.has(code)) continue;
    pairsByType.set(code, pairs);
  }
  const unknown = asArray(oa0(o).unknown).map((u) => (u as Obj).code);
  for (const code of pairsByType.keys()) {
    if (!KNOWN_ATTRIBUTES.includes(code)) {
      assert.ok(unknown.includes(code), `${where} unknown attribute ${code} kept`);
    }
  }
  const oa = (o.attributes ?? {}) as Obj;
  const origin = pairsByType.get(1);
  if (origin)
    assert.equal(
      oa.origin,
      ['igp', 'egp', 'incomplete'][Number(first(origin, 'bgp.update.path_attribute.origin'))],
      `${where} origin`,
    );
  const asPath = pairsByType.get(2);
  if (asPath) {
    const tAs = [
      ...all(asPath, 'bgp.update.path_attribute.as_path_segment.as2'),
      ...all(asPath, 'bgp.update.path_attribute.as_path_segment.as4'),
    ].map(Number);
    const t4 = pairsByType.get(17);
    const t4As = t4
      ? [
          ...all(t4, 'bgp.update.path_attribute.as_path_segment.as2'),
          ...all(t4, 'bgp.update.path_attribute.as_path_segment.as4'),
        ].map(Number)
      : undefined;
    const fourOctet = (o.options as Obj).fourOctetAs === true;
    // Our decoder has already merged AS4_PATH for a 2-octet session (RFC 6793 §4.2.3).
    assert.deepEqual(asns(oa.asPath), fourOctet ? tAs : mergeAs4(tAs, t4As), `${where} AS path`);
    if (fourOctet && t4As) assert.deepEqual(asns(oa.as4Path), t4As, `${where} AS4_PATH`);
  }
  const nh = pairsByType.get(3);
  if (nh) assert.equal(oa.nextHop, first(nh, 'bgp.update.path_attribute.next_hop'), `${where} next hop`);
  const med = pairsByType.get(4);
  if (med)
    assert.equal(oa.med, Number(first(med, 'bgp.update.path_attribute.multi_exit_disc')), `${where} MED`);
  const lp = pairsByType.get(5);
  if (lp)
    assert.equal(
      oa.localPref,
      Number(first(lp, 'bgp.update.path_attribute.local_pref')),
      `${where} LOCAL_PREF`,
    );
  const comm = pairsByType.get(8);
  if (comm) {
    const a = all(comm, 'bgp.update.path_attribute.community_as');
    const v = all(comm, 'bgp.update.path_attribute.community_value');
    // Well-known communities are shown by name only; compare the ones with both halves.
    const expected = a.map((x, i) => `${x}:${v[i]}`);
    const ours = asArray(oa.communities) as string[];
    for (const c of expected) assert.ok(ours.includes(c), `${where} community ${c} in ${ours.join(' ')}`);
    assert.equal(
      ours.length,
      Number(first(comm, 'bgp.update.path_attribute.length')) / 4,
      `${where} community count`,
    );
  }
  const large = pairsByType.get(32);
  if (large) {
    const g = all(large, 'bgp.large_communities.ga');
    const l1 = all(large, 'bgp.large_communities.ldp1');
    const l2 = all(large, 'bgp.large_communities.ldp2');
    assert.deepEqual(
      oa.largeCommunities,
      g.map((x, i) => `${x}:${l1[i]}:${l2[i]}`),
      `${where} large communities`,
    );
  }
  const ext = pairsByType.get(16);
  if (ext) {
    assert.equal(
      asArray(oa.extendedCommunities).length,
      Number(first(ext, 'bgp.update.path_attribute.length')) / 8,
      `${where} extended community count`,
    );
  }
  const reach = pairsByType.get(14);
  if (reach) {
    const mp = oa.mpReach as Obj;
    assert.ok(mp, `${where} MP_REACH_NLRI missing`);
    assert.equal(
      mp.afi,
      Number(first(reach, 'bgp.update.path_attribute.mp_reach_nlri.afi')),
      `${where} MP_REACH AFI`,
    );
    const g =
      first(reach, 'bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6') ??
      first(reach, 'bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv4');
    const ll = first(reach, 'bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6.link_local');
    if (g) assert.equal(mp.nextHop, ll ? `${g} ${ll}` : g, `${where} MP next hop`);
  }
  const announcedT = [...prefixes(flatten(t['bgp.update.nlri'])), ...(reach ? prefixes(reach) : [])].sort();
  const withdrawnT = [
    ...prefixes(flatten(t['bgp.update.withdrawn_routes'])),
    ...(pairsByType.get(15) ? prefixes(pairsByType.get(15) ?? []) : []),
  ].sort();
  const announcedO = [...oursPrefixes(o.nlri), ...oursPrefixes((oa.mpReach as Obj | undefined)?.nlri)].sort();
  const withdrawnO = [
    ...oursPrefixes(o.withdrawn),
    ...oursPrefixes((oa.mpUnreach as Obj | undefined)?.withdrawn),
  ].sort();
  assert.deepEqual(
    announcedO.map((p) => p.replace(/\/(\d+)/, '/$1')),
    announcedT.map(canonicalPrefixText),
    `${where} announced prefixes`,
  );
  assert.deepEqual(withdrawnO, withdrawnT.map(canonicalPrefixText), `${where} withdrawn prefixes`);
}

/** tshark prints "10.1.0.0" and "2001:db8:1::"; ours are the same canonical forms. */
function canonicalPrefixText(p: string): string {
  return p;
}

function compareMessage(t: Obj, o: Obj, where: string): void {
  const pairs = flatten(t);
  assert.equal(o.typeCode, Number(t['bgp.type']), `${where} type`);
  assert.equal(o.length, Number(t['bgp.length']), `${where} length`);
  assert.equal(o.error, undefined, `${where} decode error ${JSON.stringify(o.error)}`);
  switch (o.type) {
    case 'open': {
      assert.equal(o.myAs, Number(t['bgp.open.myas']), `${where} My AS`);
      assert.equal(o.holdTime, Number(t['bgp.open.holdtime']), `${where} hold time`);
      assert.equal(o.bgpId, t['bgp.open.identifier'], `${where} BGP identifier`);
      const codes = asArray(o.capabilities).map((c) => (c as Obj).code);
      assert.deepEqual(codes, all(pairs, 'bgp.cap.type').map(Number), `${where} capability codes`);
      const as4 = first(pairs, 'bgp.cap.4as');
      if (as4) {
        const cap = asArray(o.capabilities).find((c) => (c as Obj).kind === 'four-octet-as') as Obj;
        assert.equal(cap.asn, Number(as4), `${where} 4-octet AS`);
      }
      break;
    }
    case 'update':
      compareUpdate(t, o, where);
      break;
    case 'notification': {
      assert.equal(o.code, Number(t['bgp.notify.major_error']), `${where} error code`);
      const minor = pairs.find(([k]) => k.startsWith('bgp.notify.minor_error'));
      if (minor) assert.equal(o.subcode, Number(minor[1]), `${where} error subcode`);
      const text = first(pairs, 'bgp.notify.communication');
      if (text !== undefined) assert.equal(o.shutdownCommunication, text, `${where} shutdown communication`);
      break;
    }
    case 'route-refresh':
      assert.equal(o.afi, Number(t['bgp.route_refresh.afi']), `${where} AFI`);
      assert.equal(o.safi, Number(t['bgp.route_refresh.safi']), `${where} SAFI`);
      assert.equal(o.subtype, Number(t['bgp.route_refresh.subtype'] ?? 0), `${where} subtype`);
      break;
  }
}

/** Path attribute type codes the codec interprets (everything else is kept as raw bytes). */
const KNOWN_ATTRIBUTES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 32, 35];

/**
 * The captured message in the codec's canonical layout, which differs from what some speakers
 * send in four ways only: path attributes in RFC 7606 §5.1 order (MP_REACH/MP_UNREACH first, then by type code;
 * BIRD and FRR put MP_REACH_NLRI after the others),
 * the Extended Length flag set exactly when the length exceeds 255 (BIRD sets it on short
 * MP_REACH_NLRI too), and all capabilities in one Capabilities optional parameter (BIRD and FRR
 * send one parameter per capability; RFC 5492 §4 allows both); and unknown optional transitive
 * attributes carry the Partial bit, as RFC 4271 §5 requires of a speaker passing them on. Any
 * other difference is a bug.
 */
function canonicalLayout(bytes: Uint8Array): Uint8Array {
  const b = Buffer.from(bytes);
  const type = b[18];
  const withLength = (body: Buffer) => {
    const out = Buffer.concat([b.subarray(0, 19), body]);
    out.writeUInt16BE(out.length, 16);
    return out;
  };
  if (type === 1) {
    const optLen = b[28] ?? 0;
    if (optLen === 255) return bytes; // RFC 9072 extended format: left as is
    const caps: Buffer[] = [];
    for (let p = 29; p < 29 + optLen; ) {
      const ptype = b[p] ?? 0;
      const plen = b[p + 1] ?? 0;
      if (ptype !== 2) return bytes;
      caps.push(b.subarray(p + 2, p + 2 + plen));
      p += 2 + plen;
    }
    const all = Buffer.concat(caps);
    if (all.length === 0) return bytes;
    return withLength(Buffer.concat([b.subarray(19, 28), Buffer.from([all.length + 2, 2, all.length]), all]));
  }
  if (type === 2) {
    const wlen = b.readUInt16BE(19);
    const alenAt = 21 + wlen;
    const alen = b.readUInt16BE(alenAt);
    const attrs: { code: number; flags: number; value: Buffer; order: number }[] = [];
    for (let p = alenAt + 2; p < alenAt + 2 + alen; ) {
      const flags = b[p] ?? 0;
      const code = b[p + 1] ?? 0;
      const ext = (flags & 0x10) !== 0;
      const len = ext ? b.readUInt16BE(p + 2) : (b[p + 2] ?? 0);
      const start = p + (ext ? 4 : 3);
      attrs.push({ code, flags, value: b.subarray(start, start + len), order: attrs.length });
      p = start + len;
    }
    // RFC 7606 §5.1: MP_REACH_NLRI / MP_UNREACH_NLRI first, then type-code order.
    const rank = (c: number) => (c === 14 ? -2 : c === 15 ? -1 : c);
    attrs.sort((x, y) => rank(x.code) - rank(y.code) || x.order - y.order);
    const parts = attrs.map((a) => {
      const ext = a.value.length > 255;
      let flags = ext ? a.flags | 0x10 : a.flags & ~0x10;
      // RFC 4271 §5: an unrecognised optional transitive attribute is passed on with Partial set.
      if (!KNOWN_ATTRIBUTES.includes(a.code) && (flags & 0xc0) === 0xc0) flags |= 0x20;
      const h = ext
        ? Buffer.from([flags, a.code, a.value.length >> 8, a.value.length & 0xff])
        : Buffer.from([flags, a.code, a.value.length]);
      return Buffer.concat([h, a.value]);
    });
    const attrBytes = Buffer.concat(parts);
    const alenBuf = Buffer.alloc(2);
    alenBuf.writeUInt16BE(attrBytes.length);
    return withLength(
      Buffer.concat([b.subarray(19, alenAt), alenBuf, attrBytes, b.subarray(alenAt + 2 + alen)]),
    );
  }
  return bytes;
}

function tsharkMessages(file: string): { frame: number; bgp: Obj }[] {
  const r = spawnSync(
    'tshark',
    ['-r', file, '-d', 'tcp.port==179,bgp', '-T', 'json', '--no-duplicate-keys', '-Y', 'bgp'],
    {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  assert.equal(r.status, 0, `tshark failed: ${r.stderr}`);
  const frames = JSON.parse(r.stdout) as { _source: { layers: { frame: Obj; bgp: Obj | Obj[] } } }[];
  const out: { frame: number; bgp: Obj }[] = [];
  for (const f of frames) {
    const frame = Number(f._source.layers.frame['frame.number']);
    for (const m of asArray(f._source.layers.bgp)) out.push({ frame, bgp: m as Obj });
  }
  return out;
}

const fixtures = readdirSync(PCAP_DIR)
  .filter((f) => /\.pcap(ng)?$/.test(f))
  .sort();
const haveTshark = spawnSync('tshark', ['--version']).status === 0;

describe('tsbgp decode agrees with tshark on every fixture capture', {
  skip: !haveTshark && 'tshark not installed',
}, () => {
  test('there are fixtures', () => assert.ok(fixtures.length >= 5, `only ${fixtures.length} fixtures`));
  for (const file of fixtures) {
    test(file, async () => {
      const path = join(PCAP_DIR, file);
      const ours: {
        json: Obj;
        bytes?: Uint8Array;
        result?: { ok: boolean; value?: BgpMessage };
        options?: CodecOptions;
      }[] = [];
      for await (const item of decodeInput(
        { input: path, json: true, addPath: [], twoOctetAs: false, extendedMessage: false },
        (async function* () {})(),
      )) {
        ours.push(item as (typeof ours)[number]);
      }
      const theirs = tsharkMessages(path);
      const messages = ours.filter((m) => m.json.type !== 'stream-error');
      assert.deepEqual(
        ours.filter((m) => m.json.type === 'stream-error').map((m) => m.json.error),
        [],
        'stream errors',
      );
      assert.equal(
        messages.length,
        theirs.length,
        `message count: ours ${messages.length}, tshark ${theirs.length}`,
      );
      let reencoded = 0;
      let exact = 0;
      let malformed = 0;
      messages.forEach((m, i) => {
        const t = theirs[i];
        assert.ok(t);
        const where = `${file} message ${i} (frame ${t.frame})`;
        assert.equal(m.json.lastFrame, t.frame, `${where}: frame number`);
        compareMessage(t.bgp, m.json, where);
        // Re-encoding gives back the exact bytes, except for UPDATEs with malformed attributes,
        // which the decoder dropped (RFC 7606) and so cannot reproduce.
        assert.ok(m.result?.ok && m.result.value && m.options && m.bytes, `${where} decoded`);
        if (asArray(m.json.errors).length > 0) {
          malformed++;
          return;
        }
        const enc = encodeMessage(m.result.value, m.options);
        assert.ok(enc.ok, `${where} encode failed: ${enc.ok ? '' : enc.reason}`);
        const original = Buffer.from(m.bytes).toString('hex');
        const again = Buffer.from(enc.bytes).toString('hex');
        if (again === original) exact++;
        else
          assert.equal(
            again,
            Buffer.from(canonicalLayout(m.bytes)).toString('hex'),
            `${where} re-encoded bytes`,
          );
        reencoded++;
      });
      assert.equal(reencoded + malformed, messages.length);
      console.log(
        `${file}: ${messages.length} messages agree with tshark; ${exact} re-encode byte for byte, ${reencoded - exact} to the canonical layout, ${malformed} malformed (RFC 7606 errors reported)`,
      );
    });
  }

  test('the malformed-attribute capture gets the RFC 7606 outcomes', async () => {
    const byPrefix = new Map<string, Obj>();
    for await (const item of decodeInput(
      {
        input: join(PCAP_DIR, 'malformed-exabgp-bird2.pcap'),
        json: true,
        addPath: [],
        twoOctetAs: false,
        extendedMessage: false,
      },
      (async function* () {})(),
    )) {
      for (const p of asArray(item.json.nlri)) byPrefix.set(String(p), item.json);
    }
    const outcome = (prefix: string) =>
      asArray(byPrefix.get(prefix)?.errors).map((e) => `${(e as Obj).action} ${(e as Obj).attributeCode}`);
    assert.deepEqual(outcome('10.9.1.0/24'), []);
    assert.deepEqual(
      asArray(oa0(byPrefix.get('10.9.1.0/24') ?? {}).unknown).map((u) => (u as Obj).code),
      [0xf0],
    );
    assert.deepEqual(
      outcome('10.9.2.0/24'),
      ['treat-as-withdraw 32'],
      'LARGE_COMMUNITIES of 5 bytes (RFC 8092 §6)',
    );
    assert.deepEqual(outcome('10.9.3.0/24'), ['treat-as-withdraw 4'], 'MED of 2 bytes (RFC 7606 §7.4)');
    assert.deepEqual(outcome('10.9.4.0/24'), ['treat-as-withdraw 8'], 'COMMUNITIES flags (RFC 7606 §3 c)');
    assert.deepEqual(outcome('10.9.5.0/24'), []);
    for (const p of ['10.9.2.0/24', '10.9.3.0/24', '10.9.4.0/24'])
      assert.equal(byPrefix.get(p)?.treatAsWithdraw, true, p);
  });

  test('the CLI prints one JSON line per message', () => {
    const file = join(PCAP_DIR, fixtures[0] ?? '');
    const r = spawnSync(process.execPath, [BIN, 'decode', '--json', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, tsharkMessages(file).length);
    for (const l of lines) assert.ok((JSON.parse(l) as Obj).stream, 'stream info present');
  });
});
