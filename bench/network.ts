// Benchmark (not a test): what networking costs per container start and stop, through the
// network driver on real namespaces (netavark 1.4). Run as root:
//   npx tsc -p tsconfig.json && node dist/bench/network.js
// Each round: `ip netns add` (not timed: the engine names the container's own namespace),
// prepare + attach (timed), release (timed). Prints medians and the netavark share.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { newId, silentLogger } from '../src/base/index.js';
import { NetworkDriver, checkNetworkCreate, type PortRequest } from '../src/network/index.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 15);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: 'ignore' });
}

async function main(): Promise<void> {
  const root = mkdtempSync('/tmp/mtbench-');
  const third = 100 + (randomBytes(1)[0]! % 100);
  const driver = await NetworkDriver.open({
    dataRoot: join(root, 'data'),
    execRoot: join(root, 'exec'),
    log: silentLogger(),
    defaultBridge: { name: `mtb${randomBytes(3).toString('hex')}`, bip: `10.231.${third}.1/24`, icc: false },
    defaultHostIp: '127.0.0.1',
  });
  await driver.restore(new Set());
  const user = await driver.createNetwork(checkNetworkCreate({ Name: `bench-${randomBytes(3).toString('hex')}`, IPAM: { Config: [{ Subnet: `10.231.${third + 1}.0/24` }] } }));
  // One long-lived member per network, as on a busy host: the bridge and chains exist.
  const keep: Array<{ id: string; ns: string }> = [];
  const rows: Array<[string, number, number]> = [];
  try {
    for (const network of ['bridge', user.name]) {
      const ns = `mtbench-${randomBytes(4).toString('hex')}`;
      ip(['netns', 'add', ns]);
      const id = newId();
      keep.push({ id, ns });
      await driver.prepare({ containerId: id, containerName: `keep${keep.length}`, networks: [{ network }], ports: [], dns: ['127.0.0.1'] });
      await driver.attach(id, { existing: ns });
    }
    const cases: Array<[string, string, PortRequest[]]> = [
      ['default bridge (icc=false), no port', 'bridge', []],
      ['default bridge, one published port', 'bridge', [{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPortFirst: 0, hostPortLast: 0 }]],
      ['user network with DNS, no port', user.name, []],
    ];
    for (const [label, network, ports] of cases) {
      const up: number[] = [];
      const down: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const ns = `mtbench-${randomBytes(4).toString('hex')}`;
        ip(['netns', 'add', ns]);
        const id = newId();
        const t0 = performance.now();
        await driver.prepare({ containerId: id, containerName: `c${i}`, networks: [{ network }], ports, dns: ['127.0.0.1'] });
        await driver.attach(id, { existing: ns });
        const t1 = performance.now();
        await driver.release(id);
        const t2 = performance.now();
        up.push(t1 - t0);
        down.push(t2 - t1);
        ip(['netns', 'delete', ns]);
      }
      rows.push([label, median(up), median(down)]);
    }
  } finally {
    for (const k of keep) await driver.release(k.id).catch(() => undefined);
    await driver.removeAll();
    for (const k of keep) ip(['netns', 'delete', k.ns]);
    rmSync(root, { recursive: true, force: true });
  }
  console.log(`network cost per container, median of ${ROUNDS} (ms)`);
  for (const [label, up, down] of rows) console.log(`  ${label.padEnd(40)} setup ${up.toFixed(1).padStart(6)}   teardown ${down.toFixed(1).padStart(6)}`);
}

await main();
