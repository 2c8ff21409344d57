// Interop: tsbgp against ExaBGP (see checks.ts for the topology and the checks). ExaBGP is also
// the 2-octet-only peer that sends AS4_PATH, the one peer that sends a malformed attribute itself
// (its raw attribute API), and the connect-only peer (it listens only for passive neighbours).
import { interopSuite } from './checks.ts';

interopSuite({
  impl: 'exabgp',
  label: 'ExaBGP',
  tag: 'iex',
  peersPassive: true,
  note: 'the ExaBGP peers p, q and r are passive (they listen and tsbgp connects): ExaBGP listens only for passive neighbours; the peer-initiated row (node a) is the one non-passive, connect-only ExaBGP',
});
