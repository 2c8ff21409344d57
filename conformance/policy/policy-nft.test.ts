// The policy sidecar suite against iptables-nft (see suite.ts).
import { policySuite } from './suite.ts';

policySuite('nft');
