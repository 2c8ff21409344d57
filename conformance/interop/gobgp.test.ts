// Interop: tsbgp against GoBGP (see checks.ts for the topology and the checks).
import { interopSuite, ONLY_EXABGP_SENDS_MALFORMED } from './checks.ts';

interopSuite({
  impl: 'gobgp',
  label: 'GoBGP',
  tag: 'igo',
  notApplicable: {
    'asn2-peer':
      'GoBGP always advertises the 4-octet AS capability (no knob); the ExaBGP, BIRD and OpenBGPD columns cover it',
    'peer-malformed': ONLY_EXABGP_SENDS_MALFORMED,
  },
});
