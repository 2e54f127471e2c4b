// Container identity: 64-hex ids, unique names (given or generated), lookup by name, id or
// unique id prefix, and rename.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { create, inspect, listAll, run, waitLog } from '../../helpers/containers.js';

test('container ids, names, prefixes and rename', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());

  const ids: string[] = [];
  await t.test('ids are 64 lowercase hex and distinct; generated names are valid and distinct', async () => {
    for (let i = 0; i < 17; i++) ids.push(await create(d, { Cmd: ['true'] }));
    for (const id of ids) assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(new Set(ids).size, ids.length);
    const names = (await listAll(d)).map((c) => c.Names);
    assert.equal(names.length, 17);
    for (const n of names) {
      assert.equal(n.length, 1);
      assert.match(n[0]!, /^\/[a-zA-Z0-9][a-zA-Z0-9_.-]+$/);
    }
    assert.equal(new Set(names.map((n) => n[0])).size, 17, 'generated names are unique');
    // create prints the full id on the CLI too.
    const cli = await d.moat(['create', '--name', 'from-cli', 'busybox', 'true']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^[0-9a-f]{64}\n$/);
    assert.equal((await inspect(d, 'from-cli')).Id, cli.stdout.trim());
  });

  await t.test('lookup by full id, name, /name and unique prefix; ambiguous prefixes are refused', async () => {
    const id = ids[0]!;
    const name = (await inspect(d, id)).Name;
    for (const ref of [id, id.slice(0, 12), id.slice(0, 5), name, name.slice(1)]) {
      assert.equal((await inspect(d, encodeURIComponent(ref))).Id, id, `lookup by ${ref}`);
    }
    // 18 containers over 16 hex digits: some first digit is shared (pigeonhole).
    const all = (await listAll(d)).map((c) => c.Id);
    const counts = new Map<string, number>();
    for (const x of all) counts.set(x[0]!, (counts.get(x[0]!) ?? 0) + 1);
    const shared = [...counts].find(([, n]) => n > 1)![0];
    const r = await d.api('GET', `/containers/${shared}/json`);
    // moby's words (truncindex ErrAmbiguousPrefix); it answers 500, moat calls it a bad argument.
    assert.equal(r.status, 400, r.body.toString());
    assert.equal(r.json<{ message: string }>().message, `multiple IDs found with provided prefix: ${shared}`);
    // A prefix matching nothing is "No such container".
    const unused = '0123456789abcdef'.split('').find((c) => !counts.has(c));
    if (unused !== undefined) assert.equal((await d.api('GET', `/containers/${unused}/json`)).status, 404);
    // Non-hex refs never match by prefix.
    assert.equal((await d.api('GET', `/containers/${id.slice(0, 11)}z/json`)).status, 404);
    // Operations accept prefixes too.
    const p = ids[1]!;
    assert.equal((await d.api('DELETE', `/containers/${p.slice(0, 16)}`)).status, 204);
    assert.equal((await d.api('GET', `/containers/${p}/json`)).status, 404);
  });

  await t.test('names are unique: taken by a running or a stopped container; free again after rm', async () => {
    const a = await run(d, ['sh', '-c', 'echo ready; exec sleep 100'], {}, 'unique1');
    await waitLog(d, a, 'ready');
    const dup = await d.api('POST', '/containers/create?name=unique1', { Image: 'busybox', Cmd: ['true'] });
    assert.equal(dup.status, 409);
    const s = await create(d, { Cmd: ['true'] }, 'unique2');
    assert.equal((await d.api('POST', '/containers/create?name=unique2', { Image: 'busybox', Cmd: ['true'] })).status, 409);
    assert.equal((await d.api('DELETE', `/containers/${s}`)).status, 204);
    const again = await create(d, { Cmd: ['true'] }, 'unique2');
    assert.notEqual(again, s);
    assert.equal((await inspect(d, 'unique2')).Id, again);
    // A name that looks like another container's id prefix is still a name.
    const hexName = a.slice(0, 6);
    const h = await create(d, { Cmd: ['true'] }, hexName);
    assert.equal((await inspect(d, hexName)).Id, h, 'an exact name wins over an id prefix');
    assert.equal((await inspect(d, a)).Name, '/unique1');
  });

  await t.test('rename: new name works, old one is free, conflicts and bad names are refused', async () => {
    const id = (await inspect(d, 'unique1')).Id;
    const r = await d.api('POST', '/containers/unique1/rename?name=renamed');
    assert.equal(r.status, 204, r.body.toString());
    assert.equal((await inspect(d, 'renamed')).Id, id);
    assert.equal((await inspect(d, id)).Name, '/renamed');
    assert.equal((await d.api('GET', '/containers/unique1/json')).status, 404);
    // Still running, same hostname.
    const ins = await inspect(d, id);
    assert.equal(ins.State.Status, 'running');
    assert.equal(ins.Config.Hostname, id.slice(0, 12));
    // The old name is free for another container.
    const reuse = await create(d, { Cmd: ['true'] }, 'unique1');
    assert.match(reuse, /^[0-9a-f]{64}$/);
    // Renaming to a string that is an id prefix (its own or another's) is allowed.
    assert.equal((await d.api('POST', `/containers/${reuse}/rename?name=${id.slice(0, 8)}`)).status, 204);
    assert.equal((await inspect(d, id.slice(0, 8))).Id, reuse, 'the name wins over the id prefix');
    assert.equal((await d.api('POST', `/containers/${reuse}/rename?name=unique1`)).status, 204);
    // Conflict with an existing name: 409 naming it; nothing changes.
    const c = await d.api('POST', '/containers/renamed/rename?name=unique2');
    assert.equal(c.status, 409);
    assert.match(c.body.toString(), /The container name \\?"\/unique2\\?" is already in use/);
    assert.equal((await inspect(d, id)).Name, '/renamed');
    const bad = await d.api('POST', '/containers/renamed/rename?name=x');
    assert.equal(bad.status, 400);
    assert.match(bad.body.toString(), /Invalid container name \(x\)/);
    const none = await d.api('POST', '/containers/renamed/rename');
    assert.equal(none.status, 400);
    // The CLI, by id prefix.
    const cli = await d.moat(['rename', id.slice(0, 10), 'renamed-cli']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal((await inspect(d, id)).Name, '/renamed-cli');
    const ps = await d.moat(['ps']);
    assert.match(ps.stdout, /renamed-cli\n/);
  });

  await t.test('names and ids survive a daemon restart', async () => {
    const before = (await listAll(d)).map((c) => `${c.Id} ${c.Names[0]}`).sort();
    await d.stop();
    await d.start();
    const after = (await listAll(d)).map((c) => `${c.Id} ${c.Names[0]}`).sort();
    assert.deepEqual(after, before);
    assert.equal((await d.api('POST', '/containers/create?name=renamed-cli', { Image: 'busybox', Cmd: ['true'] })).status, 409);
  });
});
