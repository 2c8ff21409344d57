// The engine takes the configuration file's policies as the config loader produces them
// (src/config: communities already parsed to numbers, prefix-list entries as objects).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../config/loader.ts';
import { asSequence, parseIpv4, type StoredAttributes } from '../rib/attrs.ts';
import { parsePrefix } from '../rib/prefix.ts';
import { evaluateChain, PolicyCompiler } from './compile.ts';

const YAML = `
asn: 64512
routerId: 10.10.7.21
neighbors:
  - { name: tor-a, address: 10.10.7.1, asn: 65007, import: [from-tor], export: [to-tor] }
prefixLists:
  pod-blocks:
    - { prefix: 10.244.0.0/16, ge: 26, le: 32 }
  ours: [10.244.21.0/26, "2001:db8:244:15::/64"]
policies:
  from-tor:
    terms:
      - name: pods
        match: { prefixList: pod-blocks, community: ["65000:1"] }
        set: { localPref: 200, communities: { add: ["64512:7"] }, largeCommunities: { add: ["64512:1:2"] } }
        action: accept
      - match: { prefixList: [0.0.0.0/0] }
    default: reject
  to-tor:
    terms:
      - match: { prefixList: ours }
        set: { asPathPrepend: { count: 2 } }
    default: reject
`;

test('policies from a parsed configuration file compile and evaluate', () => {
  const config = parseConfig(YAML, 'test.yaml', { hostAddresses: () => [] });
  const compiler = new PolicyCompiler({ prefixLists: config.prefixLists, policies: config.policies });
  const tor = {
    kind: 'ebgp' as const,
    name: 'tor-a',
    address: Uint8Array.of(10, 10, 7, 1),
    routerId: parseIpv4('10.10.7.1'),
    remoteAs: 65007,
    rrClient: false,
  };
  const run = (policy: string, prefix: string, attrs: StoredAttributes) => {
    const p = parsePrefix(prefix);
    return evaluateChain(
      compiler.chain([policy], 'tor-a'),
      { afi: p.afi, words: p.words, offset: 0, length: p.length, attrs, from: tor, localAs: 64512 },
      false,
    );
  };
  const base: StoredAttributes = { origin: 0, asPath: asSequence(65007), nextHop: parseIpv4('10.10.7.1') };
  const tagged = { ...base, communities: Uint32Array.of(65000 * 65536 + 1) };
  const pods = run('from-tor', '10.244.3.64/26', tagged);
  assert.equal(pods.accept, true);
  assert.equal(pods.attrs.localPref, 200);
  assert.deepEqual(Array.from(pods.attrs.communities!), [65000 * 65536 + 1, 64512 * 65536 + 7]);
  assert.deepEqual(Array.from(pods.attrs.largeCommunities!), [64512, 1, 2]);
  assert.equal(run('from-tor', '10.244.3.64/26', base).accept, false, 'pods term needs the community');
  assert.equal(run('from-tor', '0.0.0.0/0', base).accept, true, 'the default route term');
  const out = run('to-tor', '10.244.21.0/26', { origin: 0, asPath: asSequence() });
  assert.equal(out.accept, true);
  assert.deepEqual(Array.from(out.attrs.asPath!), Array.from(asSequence(64512, 64512)));
  assert.equal(run('to-tor', '10.244.22.0/26', base).accept, false);
});
