import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getPeerCred, socketFd, userNameForUid, groupsForUser, identifyUnixPeer } from './peercred.js';

test('getPeerCred reads the connecting process from a real unix socket', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'moat-peercred-'));
  const server = net.createServer();
  t.after(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });
  const path = join(dir, 'api.sock');
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((r) => server.listen(path, r));
  const client = net.connect(path);
  try {
    const conn = await accepted;
    const fd = socketFd(conn);
    assert.ok(fd !== undefined, 'the accepted socket has an fd');
    const cred = getPeerCred(fd);
    assert.deepEqual(cred, { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
    const id = await identifyUnixPeer(fd);
    assert.equal(id.authMethod, 'SO_PEERCRED');
    assert.equal(id.uid, process.getuid!());
    assert.equal(typeof id.user, 'string');
    conn.destroy();
  } finally {
    client.destroy();
  }
});

test('getPeerCred fails clearly on a bad descriptor', () => {
  assert.throws(() => getPeerCred(-1), /invalid file descriptor/);
  assert.throws(() => getPeerCred(987654), /getsockopt\(SO_PEERCRED\) failed with errno 9/); // EBADF
});

test('user and group names come from passwd and group files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'moat-passwd-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const passwdPath = join(dir, 'passwd');
  const groupPath = join(dir, 'group');
  await writeFile(passwdPath, 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n#comment\nbroken line\n');
  await writeFile(groupPath, 'root:x:0:\nalice:x:1000:\ndocker:x:998:alice,bob\nadm:x:4:bob\n');
  assert.equal(await userNameForUid(0, { passwdPath }), 'root');
  assert.equal(await userNameForUid(1000, { passwdPath }), 'alice');
  assert.equal(await userNameForUid(4242, { passwdPath }), undefined);
  assert.equal(await userNameForUid(0, { passwdPath: join(dir, 'missing') }), undefined);
  assert.deepEqual(await groupsForUser('alice', 1000, { groupPath }), ['alice', 'docker']);
  assert.deepEqual(await groupsForUser('bob', 1001, { groupPath }), ['docker', 'adm']);
  assert.equal(await userNameForUid(0), 'root'); // the host's /etc/passwd
});
