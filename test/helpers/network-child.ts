// A stand-in for moatd in the network crash test: opens a NetworkDriver on the given roots,
// sets up one container on the default bridge with one published port, prints the endpoint
// record as one JSON line, then waits to be killed with SIGKILL.
import { NetworkDriver } from '../../src/network/index.js';
import { silentLogger } from '../../src/base/index.js';

interface Args {
  dataRoot: string;
  execRoot: string;
  bridge: string;
  bip: string;
  containerId: string;
  pid: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const driver = await NetworkDriver.open({
  dataRoot: args.dataRoot,
  execRoot: args.execRoot,
  log: silentLogger(),
  defaultBridge: { name: args.bridge, bip: args.bip, icc: false },
  defaultHostIp: '127.0.0.1',
});
await driver.restore(new Set());
await driver.prepare({
  containerId: args.containerId,
  containerName: 'crashy',
  networks: [{ network: 'bridge' }],
  ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPortFirst: 0, hostPortLast: 0 }],
  dns: ['127.0.0.1'],
});
const e = await driver.attach(args.containerId, { pid: args.pid });
process.stdout.write(JSON.stringify(e) + '\n');
setInterval(() => undefined, 60_000);
