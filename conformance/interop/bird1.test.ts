// Interop: tsbgp against BIRD 1.6 (see checks.ts for the topology and the checks).
import { interopSuite, ONLY_EXABGP_SENDS_MALFORMED } from './checks.ts';

interopSuite({
  impl: 'bird1',
  label: 'BIRD 1.6',
  tag: 'ib1',
  notApplicable: {
    'peer-initiated': 'BIRD always listens while it has a BGP protocol (the driver has no connect-only mode)',
    'peer-malformed': ONLY_EXABGP_SENDS_MALFORMED,
  },
});
