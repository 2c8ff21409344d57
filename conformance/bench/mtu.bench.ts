// The MTU lesson reproduced (issue #5 §5): throughput over tunl0 on a 9001-byte underlay with the
// MTU tsbgp detects (8980) versus the fixed 1440 of old, with iperf3, in UML (this machine's kernel
// has no ipip). Absolute UML figures are low; the ratio is the point.
//
//   node --import tsx conformance/bench/mtu.bench.ts [--seconds 5] [--offloads off,on]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { UML_RUN } from '../lib/uml.ts';

const args = process.argv.slice(2);
const i = args.indexOf('--seconds');
const o = args.indexOf('--offloads');
const seconds = i >= 0 ? Number(args[i + 1]) : 5;
const umlRun = UML_RUN;
const inner = fileURLToPath(new URL('./mtu-inner.ts', import.meta.url));

const env: NodeJS.ProcessEnv = {
  ...process.env,
  MTU_BENCH_SECONDS: String(seconds),
  MTU_BENCH_OFFLOADS: o >= 0 ? String(args[o + 1]) : 'off,on',
};
delete env.NODE_TEST_CONTEXT;
const out = await new Promise<string>((resolve, reject) => {
  const c = spawn(umlRun, ['--timeout', '400', '--', process.execPath, '--import', 'tsx', inner], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let s = '';
  c.stdout.setEncoding('utf8').on('data', (d: string) => {
    s += d;
  });
  c.on('error', reject);
  c.on('close', (code) =>
    code === 0 ? resolve(s) : reject(new Error(`uml-run exited ${code}:\n${s.slice(-3000)}`)),
  );
});
const line = out.split('\n').find((l) => l.startsWith('MTU-BENCH '));
if (!line) throw new Error(`no result from the UML run:\n${out.slice(-3000)}`);
interface Result {
  mtu: number;
  gbps: number;
  retransmits: number;
}
const r = JSON.parse(line.slice('MTU-BENCH '.length)) as Record<
  string,
  { detected: Result; fixed: Result } | number
>;
console.log(`iperf3 over IP-in-IP, 9001-byte underlay, ${r.seconds} s each, in UML (1 CPU)`);
for (const [mode, v] of Object.entries(r)) {
  if (typeof v === 'number') continue;
  const label =
    mode === 'offloads-off'
      ? 'segmentation offloads off (per-packet cost, as on a cloud NIC)'
      : 'veth offloads on (UML default)';
  console.log(`  ${label}`);
  for (const [name, x] of [
    ['detected', v.detected],
    ['fixed   ', v.fixed],
  ] as const) {
    console.log(
      `    ${name} MTU ${x.mtu}: ${(x.gbps * 1000).toFixed(0)} Mbit/s (retransmits ${x.retransmits})`,
    );
  }
  console.log(`    ratio detected / fixed: ${(v.detected.gbps / v.fixed.gbps).toFixed(2)}`);
}
