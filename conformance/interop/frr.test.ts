// Interop: tsbgp against FRR (see checks.ts for the topology and the checks).
import { interopSuite, ONLY_EXABGP_SENDS_MALFORMED } from './checks.ts';

interopSuite({
  impl: 'frr',
  label: 'FRR',
  tag: 'ifr',
  notApplicable: {
    'asn2-peer':
      'FRR sends the 4-octet AS capability whenever it sends capabilities (only dont-capability-negotiate, which drops all of them, avoids it); the ExaBGP, BIRD and OpenBGPD columns cover it',
    'peer-malformed': ONLY_EXABGP_SENDS_MALFORMED,
  },
});
