// icc off (moat's default bridge) must hold for traffic the host routes, not only for frames
// the bridge switches: bridge port isolation stops container-to-container frames, but a
// container with NET_ADMIN could route a peer's address via the gateway, and the host then
// forwarded the packets back out of the same bridge into the peer (found by hand while adding
// --link). The peer's own TCP counters tell whether anything arrived. Traffic goes only to this
// test's containers on the bridge its daemon made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk } from '../compat/cli.js';

/** InSegs of the container's TCP stack (`/proc/net/snmp`), read from inside it. */
async function tcpInSegs(d: TestDaemon, name: string): Promise<number> {
  const snmp = await dockerOk(d, ['exec', name, 'cat', '/proc/net/snmp']);
  const lines = snmp.split('\n').filter((l) => l.startsWith('Tcp:'));
  const head = lines[0]!.trim().split(/\s+/);
  const vals = lines[1]!.trim().split(/\s+/);
  return Number(vals[head.indexOf('InSegs')]);
}

test('icc off: a container routing a peer via the gateway gets nothing through to it', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'netavark', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  await dockerOk(d, ['run', '-d', '--name', 'peer', 'busybox', 'sleep', '120']);
  const ip = (await dockerOk(d, ['inspect', '-f', '{{.NetworkSettings.Networks.bridge.IPAddress}}', 'peer'])).trim();
  const gw = (await dockerOk(d, ['inspect', '-f', '{{.NetworkSettings.Networks.bridge.Gateway}}', 'peer'])).trim();
  assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
  const before = await tcpInSegs(d, 'peer');
  // Ten connection attempts to a closed port: each SYN that reached the peer counts in InSegs.
  const script = `ip route add ${ip}/32 via ${gw} && for i in $(seq 10); do timeout 1 nc ${ip} 9 </dev/null; done; ip route get ${ip}`;
  const r = await docker(d, ['run', '--rm', '--cap-add', 'NET_ADMIN', 'busybox', 'sh', '-c', script], { timeoutMs: 60_000 });
  assert.match(r.stdout, new RegExp(`via ${gw.replaceAll('.', '\\.')}`), `the route via the gateway was in place: ${r.stdout} ${r.stderr}`);
  const after = await tcpInSegs(d, 'peer');
  assert.equal(after - before, 0, `segments that reached the peer through the host: ${after - before}`);
});
