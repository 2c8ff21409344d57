// Synthetic policy models for the policy benchmarks: N endpoints, each with a profile of 10 rules
// (7 ingress, 3 egress) mixing ports, ranges, nets, label selectors and a 10,000-address named set,
// plus three policies selected by labels. By default every endpoint has its own profile (the worst
// case); with `sharedProfiles` = K, endpoint i uses profile i mod K, as Calico deployments do (a
// profile per namespace or application, shared by all of its pods).
import type { Endpoint, PolicyModel, Profile, Rule } from '../../src/dataplane/policy/model.ts';

const none = () => ({ nets: [], notNets: [], addressSets: [], notAddressSets: [], ports: [], notPorts: [] });
const port = (from: number, to = from) => ({ from, to });

export function endpointAt(i: number, sharedProfiles = 0): Endpoint {
  return {
    name: `ep${i}`,
    interface: `cali${i.toString(16).padStart(5, '0')}`,
    ipv4: [`10.${200 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`],
    ipv6: [],
    mac: `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
    labels: { app: `app${i % 50}`, tier: i % 3 === 0 ? 'front' : 'back' },
    profiles: [`prof${sharedProfiles > 0 ? i % sharedProfiles : i}`],
  };
}

function profileAt(i: number): Profile {
  const r = (x: Partial<Rule> & Pick<Rule, 'action'>): Rule => ({
    source: none(),
    destination: none(),
    ...x,
  });
  return {
    name: `prof${i}`,
    ingress: [
      r({
        action: 'allow',
        protocol: 'tcp',
        source: { ...none(), selector: "tier == 'front'" },
        destination: { ...none(), ports: [port(80), port(443)] },
      }),
      r({
        action: 'allow',
        protocol: 'tcp',
        source: { ...none(), addressSets: ['clients'] },
        destination: { ...none(), ports: [port(5432)] },
      }),
      r({
        action: 'allow',
        protocol: 'udp',
        source: { ...none(), nets: ['10.0.0.0/8'] },
        destination: { ...none(), ports: [port(53)] },
      }),
      r({ action: 'allow', protocol: 'icmp' }),
      r({ action: 'deny', protocol: 'tcp', destination: { ...none(), ports: [port(22)] } }),
      r({ action: 'log', protocol: 'tcp', destination: { ...none(), ports: [port(23)] } }),
      r({
        action: 'allow',
        protocol: 'tcp',
        source: { ...none(), selector: `app == 'app${i % 50}'` },
        destination: { ...none(), ports: [port(8000, 8100), port(9000 + (i % 100))] },
      }),
    ],
    egress: [
      r({ action: 'deny', protocol: 'tcp', destination: { ...none(), nets: ['192.0.2.0/24'] } }),
      r({ action: 'allow', protocol: 'udp', destination: { ...none(), ports: [port(53)] } }),
      r({ action: 'allow', destination: { ...none(), notNets: ['203.0.113.0/24'] } }),
    ],
  };
}

/**
 * `n` endpoints; `clients` is a named set of 10,000 addresses. With `sharedProfiles` = K > 0 there
 * are K profiles (endpoint i uses profile i mod K, whose app selector matches its own app when K
 * divides 50); otherwise one profile per endpoint.
 */
export function benchModel(n: number, first = 0, sharedProfiles = 0): PolicyModel {
  const endpoints: Endpoint[] = [];
  const profiles: Profile[] = [];
  for (let i = first; i < first + n; i++) endpoints.push(endpointAt(i, sharedProfiles));
  if (sharedProfiles > 0) for (let k = 0; k < sharedProfiles; k++) profiles.push(profileAt(k));
  else for (let i = first; i < first + n; i++) profiles.push(profileAt(i));
  const clients: string[] = [];
  for (let k = 0; k < 10000; k++) clients.push(`172.16.${k >> 8}.${k & 255}`);
  return {
    endpoints,
    profiles,
    addressSets: [{ name: 'clients', nets: clients }],
    policies: [
      {
        name: 'front-from-clients',
        order: 10,
        selector: "tier == 'front'",
        types: ['ingress'],
        ingress: [
          {
            action: 'allow',
            protocol: 'tcp',
            source: { ...none(), addressSets: ['clients'] },
            destination: { ...none(), ports: [port(443)] },
          },
          { action: 'pass', source: none(), destination: none() },
        ],
        egress: [],
      },
      {
        name: 'no-smtp',
        order: 20,
        selector: 'all()',
        types: ['egress'],
        ingress: [],
        egress: [
          { action: 'deny', protocol: 'tcp', source: none(), destination: { ...none(), ports: [port(25)] } },
          { action: 'pass', source: none(), destination: none() },
        ],
      },
      {
        name: 'back-isolation',
        order: 30,
        selector: "tier == 'back' && !has(exempt)",
        types: ['ingress'],
        ingress: [
          {
            action: 'pass',
            source: { ...none(), selector: "tier in {'front','back'}" },
            destination: none(),
          },
        ],
        egress: [],
      },
    ],
  };
}
