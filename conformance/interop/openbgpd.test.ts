// Interop: tsbgp against OpenBGPD (see checks.ts for the topology and the checks).
import { interopSuite, ONLY_EXABGP_SENDS_MALFORMED } from './checks.ts';

interopSuite({
  impl: 'openbgpd',
  label: 'OpenBGPD',
  tag: 'iob',
  twoOctetPeerKnowsUsAs: 'our real AS',
  note: 'the 2-octet-only OpenBGPD (announce as-4byte no) is configured with our real AS 4200000001: bgpd refuses "remote-as 23456" ("AS 23456 is reserved")',
  notApplicable: {
    'peer-initiated':
      'the OpenBGPD driver cannot make it connect-only: with listen: false it writes no "listen on" line, and bgpd then listens on every address',
    'peer-malformed': ONLY_EXABGP_SENDS_MALFORMED,
  },
});
