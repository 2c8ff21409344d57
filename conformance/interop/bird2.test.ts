// Interop: tsbgp against BIRD 2 (see checks.ts for the topology and the checks).
import { interopSuite, ONLY_EXABGP_SENDS_MALFORMED } from './checks.ts';

interopSuite({
  impl: 'bird2',
  label: 'BIRD 2',
  tag: 'ib2',
  notApplicable: {
    'peer-initiated': 'BIRD always listens while it has a BGP protocol (the driver has no connect-only mode)',
    'asn2-peer':
      'BIRD 2 with "enable as4 off" cannot peer with a 4-octet-AS speaker: it still checks the ASN of our 4-octet AS capability against "neighbor as 23456" ("Bad peer AS: 4200000001"), and refuses "neighbor as 4200000001" ("AS4 not available")',
    'peer-malformed': ONLY_EXABGP_SENDS_MALFORMED,
  },
});
