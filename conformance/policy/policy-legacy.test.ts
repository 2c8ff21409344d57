// The policy sidecar suite against iptables-legacy (see suite.ts).
import { policySuite } from './suite.ts';

policySuite('legacy');
