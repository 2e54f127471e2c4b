// Docker's `host` and `none` pseudo-networks and the `network` filter of `docker ps`, through
// moatd and the docker CLI on real containers: list, filters, inspect (ids stable across a
// moatd restart, running members shown), rm and connect refused with Docker's messages, and
// `ps --filter network=` matching every network a container is on. No traffic leaves the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk } from '../compat/cli.js';

const lines = (s: string): string[] => s.trim().split('\n').filter((x) => x !== '');

test('host and none pseudo-networks and ps --filter network', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'netavark', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());

  await t.test('network ls lists bridge, host and none with their drivers; the filters work as Docker\'s', async () => {
    await dockerOk(d, ['network', 'create', 'mine']);
    const all = lines(await dockerOk(d, ['network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']));
    for (const row of ['bridge bridge local', 'host host local', 'none null local', 'mine bridge local']) assert.ok(all.includes(row), all.join('\n'));
    assert.deepEqual(lines(await dockerOk(d, ['network', 'ls', '--filter', 'type=builtin', '--format', '{{.Name}}'])).sort(), ['bridge', 'host', 'none']);
    assert.deepEqual(lines(await dockerOk(d, ['network', 'ls', '--filter', 'type=custom', '--format', '{{.Name}}'])), ['mine']);
    assert.deepEqual(lines(await dockerOk(d, ['network', 'ls', '--filter', 'driver=null', '--format', '{{.Name}}'])), ['none']);
    assert.deepEqual(lines(await dockerOk(d, ['network', 'ls', '--filter', 'name=host', '--format', '{{.Name}}'])), ['host']);
    const hostId = (await dockerOk(d, ['network', 'inspect', '-f', '{{.Id}}', 'host'])).trim();
    assert.match(hostId, /^[a-f0-9]{64}$/);
    assert.deepEqual(lines(await dockerOk(d, ['network', 'ls', '--filter', `id=${hostId.slice(0, 12)}`, '--format', '{{.Name}}'])), ['host']);
    assert.deepEqual(lines(await dockerOk(d, ['network', 'ls', '--filter', 'dangling=true', '--format', '{{.Name}}'])), ['mine']);
  });

  await t.test('inspect: Docker\'s shape; ids survive a moatd restart; running host/none containers are members', async () => {
    const ids = (await dockerOk(d, ['network', 'inspect', '-f', '{{.Id}} {{.Driver}} {{json .IPAM.Config}} {{json .Containers}}', 'host', 'none'])).trim();
    const [hostLine, noneLine] = lines(ids);
    assert.match(hostLine!, /^[a-f0-9]{64} host \[\] \{\}$/);
    assert.match(noneLine!, /^[a-f0-9]{64} null \[\] \{\}$/);
    await d.stop();
    await d.start();
    assert.equal((await dockerOk(d, ['network', 'inspect', '-f', '{{.Id}} {{.Driver}} {{json .IPAM.Config}} {{json .Containers}}', 'host', 'none'])).trim(), ids);
    // By id prefix too.
    assert.equal((await dockerOk(d, ['network', 'inspect', '-f', '{{.Name}}', hostLine!.slice(0, 12)])).trim(), 'host');

    const h = (await dockerOk(d, ['run', '-d', '--name', 'h1', '--network', 'host', 'busybox', 'sleep', '300'])).trim();
    const n = (await dockerOk(d, ['run', '-d', '--name', 'n1', '--network', 'none', 'busybox', 'sleep', '300'])).trim();
    await dockerOk(d, ['create', '--name', 'h2', '--network', 'host', 'busybox', 'true']);
    const members = (net: string): Promise<string> => dockerOk(d, ['network', 'inspect', '-f', '{{range $id, $c := .Containers}}{{$id}} {{$c.Name}} {{end}}', net]);
    assert.equal((await members('host')).trim(), `${h} h1`, 'only the running host container');
    assert.equal((await members('none')).trim(), `${n} n1`);
    assert.equal((await dockerOk(d, ['inspect', '-f', '{{.NetworkSettings.Networks.host.NetworkID}}', 'h1'])).trim(), hostLine!.slice(0, 64));
  });

  await t.test('rm host|none is refused with Docker\'s message; so is connecting to them', async () => {
    for (const name of ['host', 'none']) {
      const r = await docker(d, ['network', 'rm', name]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`${name} is a pre-defined network and cannot be removed`), r.stderr);
    }
    await dockerOk(d, ['run', '-d', '--name', 'b1', 'busybox', 'sleep', '300']);
    const toHost = await docker(d, ['network', 'connect', 'host', 'b1']);
    assert.notEqual(toHost.code, 0);
    assert.match(toHost.stderr, /container cannot be disconnected from host network or connected to host network/);
    const toNone = await docker(d, ['network', 'connect', 'none', 'b1']);
    assert.notEqual(toNone.code, 0);
    assert.match(toNone.stderr, /container cannot be connected to multiple networks with one of the networks in private \(none\) mode/);
    const hostToNone = await docker(d, ['network', 'connect', 'none', 'h1']);
    assert.notEqual(hostToNone.code, 0);
    assert.match(hostToNone.stderr, /container sharing network namespace with another container or host cannot be connected to any other network/);
    const noneAgain = await docker(d, ['network', 'connect', 'none', 'n1']);
    assert.notEqual(noneAgain.code, 0);
    assert.match(noneAgain.stderr, /endpoint with name n1 already exists in network none/);
    const hostOff = await docker(d, ['network', 'disconnect', 'host', 'h1']);
    assert.notEqual(hostOff.code, 0);
    assert.match(hostOff.stderr, /container cannot be disconnected from host network or connected to host network/);
    const noneOff = await docker(d, ['network', 'disconnect', 'none', 'h1']);
    assert.notEqual(noneOff.code, 0);
    assert.match(noneOff.stderr, /container [a-f0-9]{64} is not connected to network none/);
    // A stopped none container may leave none (then it has no network), as Docker's.
    await dockerOk(d, ['create', '--name', 'n2', '--network', 'none', 'busybox', 'true']);
    await dockerOk(d, ['network', 'disconnect', 'none', 'n2']);
    assert.equal((await dockerOk(d, ['inspect', '-f', '{{json .NetworkSettings.Networks}}', 'n2'])).trim(), '{}');
    await dockerOk(d, ['rm', 'n2']);
    // The refusals changed nothing.
    assert.equal((await dockerOk(d, ['inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', 'b1'])).trim(), 'bridge');
  });

  await t.test('ps --filter network matches every network a container is on, by name or id prefix', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'm1', '--network', 'mine', 'busybox', 'sleep', '300']);
    await dockerOk(d, ['network', 'connect', 'mine', 'b1']);
    const ps = async (...f: string[]): Promise<string[]> => lines(await dockerOk(d, ['ps', '-a', ...f.flatMap((x) => ['--filter', `network=${x}`]), '--format', '{{.Names}}'])).sort();
    assert.deepEqual(await ps('mine'), ['b1', 'm1'], 'b1 is on mine through connect, not NetworkMode');
    assert.deepEqual(await ps('bridge'), ['b1']);
    assert.deepEqual(await ps('host'), ['h1', 'h2']);
    assert.deepEqual(await ps('none'), ['n1']);
    const mineId = (await dockerOk(d, ['network', 'inspect', '-f', '{{.Id}}', 'mine'])).trim();
    assert.deepEqual(await ps(mineId.slice(0, 10)), ['b1', 'm1']);
    assert.deepEqual(await ps('min'), [], 'names match exactly');
    assert.deepEqual(await ps('nosuch'), []);
    assert.deepEqual(await ps('none', 'mine'), ['b1', 'm1', 'n1'], 'values are alternatives');
  });
});
