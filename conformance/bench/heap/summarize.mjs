// node summarize.mjs FILE.heapprofile          total sampled allocation and the top sites
// node summarize.mjs BEFORE.heapsnapshot AFTER.heapsnapshot
//                                              objects in AFTER that BEFORE lacked, by kind
import fs from 'node:fs';

const [first, second] = process.argv.slice(2);
const read = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));

function sampled(profile) {
  const bySite = new Map();
  let total = 0;
  const name = (n) =>
    `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
  const walk = (n, parentJs) => {
    const js = n.callFrame.url !== '';
    const site = js || parentJs === null ? name(n) : `${n.callFrame.functionName} <- ${parentJs}`;
    total += n.selfSize;
    if (n.selfSize > 0) bySite.set(site, (bySite.get(site) ?? 0) + n.selfSize);
    for (const c of n.children) walk(c, js ? name(n) : parentJs);
  };
  walk(profile.head, null);
  console.log(`sampled allocation: ${(total / 1e6).toFixed(1)} MB`);
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 25))
    console.log(`${(bytes / 1e6).toFixed(2).padStart(7)} MB  ${site}`);
}

function newObjects(before, after) {
  const ids = new Set();
  {
    const fields = before.snapshot.meta.node_fields;
    const id = fields.indexOf('id');
    for (let i = 0; i < before.nodes.length; i += fields.length) ids.add(before.nodes[i + id]);
  }
  const fields = after.snapshot.meta.node_fields;
  const types = after.snapshot.meta.node_types[0];
  const [type, nameAt, id, size] = ['type', 'name', 'id', 'self_size'].map((f) => fields.indexOf(f));
  const byKind = new Map();
  let count = 0;
  for (let i = 0; i < after.nodes.length; i += fields.length) {
    if (ids.has(after.nodes[i + id])) continue;
    const t = types[after.nodes[i + type]];
    const kind = t === 'object' || t === 'native' ? `${t}: ${after.strings[after.nodes[i + nameAt]]}` : t;
    const e = byKind.get(kind) ?? [0, 0];
    e[0]++;
    e[1] += after.nodes[i + size];
    byKind.set(kind, e);
    count++;
  }
  console.log(`new heap objects: ${count}`);
  for (const [kind, [n, bytes]] of [...byKind].sort((a, b) => b[1][0] - a[1][0]).slice(0, 20))
    console.log(`${String(n).padStart(8)} ${String(bytes).padStart(10)} B  ${kind}`);
}

if (second === undefined) sampled(read(first));
else newObjects(read(first), read(second));
