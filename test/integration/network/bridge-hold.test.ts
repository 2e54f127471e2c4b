// The default bridge is held while moatd runs (issue 15's cost): moat's idle tap port
// `mta-<tag>` keeps netavark from deleting the bridge and its chains with its last container,
// so the next start does not rebuild them. moatd's stop takes the bridge, the port and the
// network's chains away; after a kill -9 the port stays and the restarted daemon adopts it;
// a stale port of that name that is not on the default bridge is replaced. Traffic: none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { hostSnapshot, netavarkHash, sh, snapshotDiff } from '../../helpers/network.js';
import { dockerOk } from '../compat/cli.js';

interface Link {
  ifindex: number;
  ifname: string;
  master?: string;
}

function links(): Link[] {
  return JSON.parse(sh(['ip', '-j', 'link', 'show'])) as Link[];
}

function natChains(): string {
  return sh(['iptables', '-w', '-t', 'nat', '-S']);
}

test('the default bridge outlives its last container while moatd runs, and goes when moatd stops', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'netavark', 'busybox')) return;
  const before = hostSnapshot();
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const tag = createHash('sha256').update(d.dataRoot).digest('hex').slice(0, 8);
  const anchor = `mta-${tag}`;
  const id = (await dockerOk(d, ['network', 'inspect', '-f', '{{.Id}}', 'bridge'])).trim();
  const hash = netavarkHash(id);
  const portsOf = (bridge: string): string[] => links().filter((l) => l.master === bridge).map((l) => l.ifname);
  const gone = (): void => {
    assert.equal(links().some((l) => l.ifname === d.bridge || l.ifname === anchor), false, 'no bridge, no idle port');
    assert.equal(natChains().includes(hash), false, "no chain of the default bridge's network");
  };

  await t.test('two runs in a row reuse the bridge: its last container leaves it and its chains', async () => {
    await dockerOk(d, ['run', '--rm', 'busybox', 'true']);
    assert.deepEqual(portsOf(d.bridge), [anchor], 'only the idle port is left on the bridge');
    assert.match(natChains(), new RegExp(`-N NETAVARK-${hash}`));
    const first = links().find((l) => l.ifname === d.bridge)!.ifindex;
    await dockerOk(d, ['run', '--rm', 'busybox', 'true']);
    assert.equal(links().find((l) => l.ifname === d.bridge)?.ifindex, first, 'the same bridge, not a new one');
  });

  await t.test('moatd stop removes the idle port, the bridge and its chains', async () => {
    await d.stop();
    gone();
  });

  await t.test('after kill -9 the port stays; the restarted daemon adopts it, and its stop leaves nothing', async () => {
    await d.start();
    await dockerOk(d, ['run', '--rm', 'busybox', 'true']);
    await d.kill();
    assert.deepEqual(portsOf(d.bridge), [anchor], 'a crash leaves the held bridge');
    await d.start();
    assert.deepEqual(portsOf(d.bridge), [anchor], 'restore keeps it while the daemon runs');
    await dockerOk(d, ['run', '--rm', 'busybox', 'true']);
    await d.stop();
    gone();
  });

  await t.test('a stale idle port off the default bridge is replaced at restore', async () => {
    sh(['ip', 'tuntap', 'add', 'dev', anchor, 'mode', 'tap']);
    await d.start();
    assert.equal(links().some((l) => l.ifname === anchor), false, 'restore removed the stray port');
    await dockerOk(d, ['run', '--rm', 'busybox', 'true']);
    assert.deepEqual(portsOf(d.bridge), [anchor]);
  });

  await t.test('cleanup leaves nothing behind', async () => {
    await d.cleanup();
    gone();
    const diff = snapshotDiff(before, hostSnapshot(), { bridges: [d.bridge], prefixes: [`${d.bridgeSubnet.prefix}.`], tags: [tag], hashes: [hash] });
    assert.deepEqual(diff, { added: [], removed: [] });
  });
});
