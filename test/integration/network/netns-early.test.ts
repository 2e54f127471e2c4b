// The container's network namespace is made before `runc create` (issue 15, Podman's
// order): runc joins it by path while netavark sets it up, and the start waits for both.
// Checked here: config.json names moat's namespace, loopback is up (runc does not bring it
// up in a namespace it did not make; netavark's setup does), inspect's SandboxKey, exec, `--network container:X`,
// `network connect` at runtime; under --userns-remap runc still makes the namespace. The
// failure paths: netavark failing while runc creates (a tap device squats the network's
// bridge name) and runc failing while netavark sets up (no such executable) each fail the
// start with its own error and leave nothing (namespace file, record, veth, rules, cgroup).
// Traffic: none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { freeSubnet, hostSnapshot, netavarkHash, sh, snapshotDiff, type Owned } from '../../helpers/network.js';
import { checkConsistency } from '../../faults/consistency.js';
import { docker, dockerOk } from '../compat/cli.js';

function tagOf(d: TestDaemon): string {
  return createHash('sha256').update(d.dataRoot).digest('hex').slice(0, 8);
}

/** The network namespace entry of a container's config.json. */
function networkNamespace(d: TestDaemon, id: string, dataRoot = d.dataRoot): { type: string; path?: string } | undefined {
  const spec = JSON.parse(readFileSync(join(dataRoot, 'containers', id, 'config.json'), 'utf8')) as { linux: { namespaces: Array<{ type: string; path?: string }> } };
  return spec.linux.namespaces.find((n) => n.type === 'network');
}

/** This daemon's named namespaces and endpoint records. */
function networkState(d: TestDaemon, dataRoot = d.dataRoot): { netns: string[]; records: string[] } {
  const dir = join(dataRoot, 'network', 'endpoints');
  const tag = createHash('sha256').update(dataRoot).digest('hex').slice(0, 8);
  return {
    netns: existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(`moat-${tag}-`)) : [],
    records: existsSync(dir) ? readdirSync(dir) : [],
  };
}

test('the namespace is made before runc create: runc joins it, loopback is up, inspect, exec, container:X and connect work', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'netavark', 'busybox')) return;
  const before = hostSnapshot();
  const d = await startDaemon();
  const sub = freeSubnet([d.bridgeSubnet.subnet]);
  let netId = '';
  try {
    const id = (await dockerOk(d, ['run', '-d', '--name', 'aa', 'busybox', 'sleep', '300'])).trim();
    const name = `moat-${tagOf(d)}-${id.slice(0, 12)}`;
    assert.deepEqual(networkNamespace(d, id), { type: 'network', path: `/run/netns/${name}` }, 'runc joins the namespace moat made');
    assert.equal((await dockerOk(d, ['inspect', '-f', '{{.NetworkSettings.SandboxKey}}', 'aa'])).trim(), `/run/netns/${name}`);
    const ip = (await dockerOk(d, ['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'aa'])).trim();
    assert.match(await dockerOk(d, ['exec', 'aa', 'ip', '-o', 'link', 'show', 'lo']), /<LOOPBACK,UP,LOWER_UP>/, 'loopback is up');
    assert.match(await dockerOk(d, ['exec', 'aa', 'ip', '-o', '-4', 'addr', 'show', 'eth0']), new RegExp(`inet ${ip.replaceAll('.', '\\.')}/24`));
    assert.match(await dockerOk(d, ['exec', 'aa', 'ip', 'route']), new RegExp(`^default via ${d.bridgeSubnet.prefix.replaceAll('.', '\\.')}\\.1 dev eth0`, 'm'));
    const joined = await dockerOk(d, ['run', '--rm', '--network', 'container:aa', 'busybox', 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
    assert.match(joined, new RegExp(`inet ${ip.replaceAll('.', '\\.')}/24`), 'container:a joins the same namespace');
    netId = (await dockerOk(d, ['network', 'create', '--subnet', sub.subnet, 'extra'])).trim();
    await dockerOk(d, ['network', 'connect', 'extra', 'aa']);
    assert.match(await dockerOk(d, ['exec', 'aa', 'ip', '-o', '-4', 'addr', 'show', 'eth1']), new RegExp(`inet ${sub.prefix.replaceAll('.', '\\.')}\\.2/24`), 'connect at runtime adds eth1');
    assert.deepEqual(networkState(d).netns, [name]);
    await dockerOk(d, ['rm', '-f', 'aa']);
    assert.deepEqual(networkState(d), { netns: [], records: [] }, 'rm takes the namespace and the record');
    // A run --rm on the bridge: the namespace is made, set up and removed again.
    assert.equal((await dockerOk(d, ['run', '--rm', 'busybox', 'cat', '/sys/class/net/lo/operstate'])).trim(), 'unknown', 'lo is up (loopback reports operstate unknown when up)');
    assert.deepEqual(await checkConsistency(d), []);
    await dockerOk(d, ['network', 'rm', 'extra']);
  } finally {
    await d.cleanup();
  }
  const owned: Owned = { bridges: [d.bridge, `moatbr-${netId.slice(0, 8)}`], prefixes: [`${d.bridgeSubnet.prefix}.`, `${sub.prefix}.`], tags: [tagOf(d)], hashes: netId ? [netavarkHash(netId)] : [] };
  assert.deepEqual(snapshotDiff(before, hostSnapshot(), owned), { added: [], removed: [] });
});

test('netavark failing while runc creates, and runc failing while netavark sets up: the start fails and leaves nothing', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'netavark', 'busybox')) return;
  const before = hostSnapshot();
  const d = await startDaemon();
  const sub = freeSubnet([d.bridgeSubnet.subnet]);
  const squat = `mtq${tagOf(d).slice(0, 8)}`;
  let netId = '';
  try {
    netId = (await dockerOk(d, ['network', 'create', '--subnet', sub.subnet, '-o', `com.docker.network.bridge.name=${squat}`, 'squatted'])).trim();
    // A tap device takes the bridge's name after the network was made: netavark refuses it.
    sh(['ip', 'tuntap', 'add', squat, 'mode', 'tap']);
    try {
      const r = await docker(d, ['run', '-d', '--name', 'nv', '--network', 'squatted', 'busybox', 'sleep', '300']);
      assert.equal(r.code, 125, r.stderr);
      // netavark's failure is an internal error (500): the client sees its request id, the daemon log the words.
      assert.match(r.stderr, /Internal error, see daemon log/);
      assert.match(readFileSync(d.logFile, 'utf8'), /Cannot set up network: netavark: bridge interface \S+ already exists but is a Tun interface/, "netavark's own error in the log");
      const id = (await dockerOk(d, ['inspect', '-f', '{{.Id}}', 'nv'])).trim();
      assert.equal((await dockerOk(d, ['inspect', '-f', '{{.State.Status}}', 'nv'])).trim(), 'created');
      assert.deepEqual(networkState(d), { netns: [], records: [] }, 'no namespace file, no endpoint record');
      assert.equal(sh(['iptables-save']).includes(id), false, 'no rule names the container');
      assert.deepEqual(await checkConsistency(d), [], 'no runc container, conmon, mount or cgroup left');
      // netavark's teardown of the failed setup deleted the squatting device as the network's
      // last "bridge" (an existing issue, not this order's): put it back for the --rm case.
      if (!existsSync(`/sys/class/net/${squat}`)) sh(['ip', 'tuntap', 'add', squat, 'mode', 'tap']);
      const rr = await docker(d, ['run', '--rm', '--network', 'squatted', 'busybox', 'true']);
      assert.equal(rr.code, 125, rr.stderr);
      assert.deepEqual(networkState(d), { netns: [], records: [] }, 'run --rm: nothing left either');
    } finally {
      if (existsSync(`/sys/class/net/${squat}`)) sh(['ip', 'link', 'delete', squat]);
    }
    // Without the squatter the same container starts.
    await dockerOk(d, ['start', 'nv']);
    assert.match(await dockerOk(d, ['exec', 'nv', 'ip', '-o', '-4', 'addr', 'show', 'eth0']), new RegExp(`inet ${sub.prefix.replaceAll('.', '\\.')}\\.`));
    await dockerOk(d, ['rm', '-f', 'nv']);

    // runc fails (no such executable) while netavark sets up the bridge and a published port.
    const r = await docker(d, ['run', '-d', '--name', 'rf', '-p', '127.0.0.1::80', 'busybox', '/no/such/binary']);
    assert.equal(r.code, 127, r.stderr);
    assert.match(r.stderr, /no such file or directory/);
    const id = (await dockerOk(d, ['inspect', '-f', '{{.Id}}', 'rf'])).trim();
    assert.deepEqual(networkState(d), { netns: [], records: [] }, 'no namespace file, no endpoint record');
    assert.equal(sh(['iptables-save']).includes(id), false, 'no rule names the container');
    assert.deepEqual(await checkConsistency(d), []);
    await dockerOk(d, ['rm', '-f', 'rf']);
    await dockerOk(d, ['network', 'rm', 'squatted']);
  } finally {
    await d.cleanup();
  }
  const owned: Owned = { bridges: [d.bridge, squat], prefixes: [`${d.bridgeSubnet.prefix}.`, `${sub.prefix}.`], tags: [tagOf(d)], hashes: netId ? [netavarkHash(netId)] : [] };
  assert.deepEqual(snapshotDiff(before, hostSnapshot(), owned), { added: [], removed: [] });
});

test('with --userns-remap runc makes the namespace and the networks are set up after its create', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'netavark', 'busybox')) return;
  const before = hostSnapshot();
  const d = await startDaemon({ args: ['--userns-remap', 'default'] });
  try {
    const id = (await dockerOk(d, ['run', '-d', '--name', 'uu', 'busybox', 'sleep', '300'])).trim();
    // Under remap everything moves to <data-root>/<uid>.<gid> (Docker's layout).
    const remapped = join(d.dataRoot, readdirSync(d.dataRoot).find((n) => /^\d+\.\d+$/.test(n))!);
    assert.deepEqual(networkNamespace(d, id, remapped), { type: 'network' }, 'no path: runc makes it in the user namespace');
    assert.match(await dockerOk(d, ['exec', 'uu', 'ip', '-o', 'link', 'show', 'lo']), /<LOOPBACK,UP,LOWER_UP>/);
    assert.match(await dockerOk(d, ['exec', 'uu', 'ip', '-o', '-4', 'addr', 'show', 'eth0']), new RegExp(`inet ${d.bridgeSubnet.prefix.replaceAll('.', '\\.')}\\.`));
    const tag = createHash('sha256').update(remapped).digest('hex').slice(0, 8);
    assert.deepEqual(networkState(d, remapped).netns, [`moat-${tag}-${id.slice(0, 12)}`], 'named after the create, as before');
    await dockerOk(d, ['rm', '-f', 'uu']);
    assert.deepEqual(networkState(d, remapped), { netns: [], records: [] });
  } finally {
    await d.cleanup();
  }
  const owned: Owned = { bridges: [d.bridge], prefixes: [`${d.bridgeSubnet.prefix}.`], tags: [], hashes: [] };
  assert.deepEqual(snapshotDiff(before, hostSnapshot(), owned), { added: [], removed: [] });
});
