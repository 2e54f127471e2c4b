import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile, stat, chown, chmod, readdir, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EngineError } from '../base/index.js';
import { parseSubIdFile, rangesOverlap, type SubIdEntry } from './idmap.js';
import { ensureRemapRanges, ensureSubIdRange, withFileLock } from './subid.js';
import { requires } from '../../test/helpers/requires.js';

interface Host {
  dir: string;
  subuid: string;
  subgid: string;
  passwd: string;
  group: string;
  /** createUser fake: appends the user and its group to the temp passwd/group; counts calls. */
  createUser: (name: string) => Promise<void>;
  created: string[];
}

async function fakeHost(t: { after: (fn: () => Promise<void>) => void }, files: { subuid?: string; subgid?: string; passwd?: string } = {}): Promise<Host> {
  const dir = await mkdtemp(join(tmpdir(), 'moat-subid-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const h: Host = {
    dir,
    subuid: join(dir, 'subuid'),
    subgid: join(dir, 'subgid'),
    passwd: join(dir, 'passwd'),
    group: join(dir, 'group'),
    created: [],
    createUser: async (name) => {
      h.created.push(name);
      await new Promise((r) => setTimeout(r, 10));
      await appendFile(h.passwd, `${name}:x:999:998::/nonexistent:/bin/false\n`);
      await appendFile(h.group, `${name}:x:998:\n`);
    },
  };
  await writeFile(h.subuid, files.subuid ?? '');
  await writeFile(h.subgid, files.subgid ?? '');
  await writeFile(h.passwd, files.passwd ?? 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n');
  await writeFile(h.group, 'root:x:0:\nalice:x:1000:\n');
  return h;
}

const paths = (h: Host) => ({ subuidPath: h.subuid, subgidPath: h.subgid, passwdPath: h.passwd, groupPath: h.group, createUser: h.createUser });

function assertDisjoint(entries: readonly SubIdEntry[]): void {
  for (let i = 0; i < entries.length; i++) {
    for (let j = i + 1; j < entries.length; j++) {
      assert.ok(!rangesOverlap(entries[i]!, entries[j]!), `${JSON.stringify(entries[i])} overlaps ${JSON.stringify(entries[j])}`);
    }
  }
}

test('default on a fresh host creates dockremap and non-overlapping ranges, keeping mode and owner', async (t) => {
  if (!requires(t, 'root')) return; // gives the files another owner to check it is kept
  const h = await fakeHost(t, { subuid: 'alice:100000:65536\nbob:300000:1000\n', subgid: '# groups\nalice:100000:70000' });
  await chmod(h.subuid, 0o640);
  await chown(h.subuid, 1234, 4321);
  const r = await ensureRemapRanges({ spec: 'default', ...paths(h) });
  assert.deepEqual(h.created, ['dockremap']);
  assert.deepEqual(r, {
    enabled: true,
    user: 'dockremap',
    group: 'dockremap',
    uidStart: 165536,
    gidStart: 170000,
    size: 65536,
    uidMappings: [{ containerID: 0, hostID: 165536, size: 65536 }],
    gidMappings: [{ containerID: 0, hostID: 170000, size: 65536 }],
  });
  assert.equal(await readFile(h.subuid, 'utf8'), 'alice:100000:65536\nbob:300000:1000\ndockremap:165536:65536\n');
  assert.equal(await readFile(h.subgid, 'utf8'), '# groups\nalice:100000:70000\ndockremap:170000:65536\n');
  const st = await stat(h.subuid);
  assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [0o640, 1234, 4321]);
  assert.deepEqual((await readdir(h.dir)).sort(), ['group', 'passwd', 'subgid', 'subuid'], 'no temp or lock files left');
});

test('default reuses an existing dockremap user and ranges without touching the files', async (t) => {
  const h = await fakeHost(t, {
    subuid: 'dockremap:500000:65536\n',
    subgid: '102:600000:65536\n', // matched by uid
    passwd: 'root:x:0:0::/root:/bin/sh\ndockremap:x:102:106::/nonexistent:/bin/false\n',
  });
  await writeFile(h.group, 'root:x:0:\ndockremap:x:106:\n');
  const before = await stat(h.subuid);
  const r = await ensureRemapRanges({ spec: 'default', ...paths(h) });
  assert.deepEqual(h.created, []);
  assert.ok(r.enabled);
  assert.deepEqual([r.uidStart, r.gidStart, r.size], [500000, 600000, 65536]);
  const after = await stat(h.subuid);
  assert.deepEqual([after.ino, after.mtimeMs], [before.ino, before.mtimeMs]);
});

test('concurrent default calls create the user once and agree on one range', async (t) => {
  const h = await fakeHost(t, { subuid: 'alice:100000:65536\n' });
  const results = await Promise.all(Array.from({ length: 8 }, () => ensureRemapRanges({ spec: 'default', ...paths(h) })));
  assert.deepEqual(h.created, ['dockremap']);
  for (const r of results) assert.deepEqual(r, results[0]);
  const entries = parseSubIdFile(await readFile(h.subuid, 'utf8'));
  assert.equal(entries.filter((e) => e.name === 'dockremap').length, 1);
  assert.equal(parseSubIdFile(await readFile(h.subgid, 'utf8')).length, 1);
});

test('concurrent ensureSubIdRange() calls in one process give disjoint ranges', async (t) => {
  const h = await fakeHost(t, { subuid: 'alice:100000:65536\n' });
  const got = await Promise.all(Array.from({ length: 12 }, (_, i) => ensureSubIdRange(h.subuid, { name: `u${i}`, uid: 2000 + i })));
  const entries = parseSubIdFile(await readFile(h.subuid, 'utf8'));
  assert.equal(entries.length, 13);
  assertDisjoint(entries);
  for (const [i, g] of got.entries()) assert.deepEqual(g, entries.filter((e) => e.name === `u${i}`));
});

test('several processes editing the same file never corrupt it and get disjoint ranges', async (t) => {
  const h = await fakeHost(t, { subuid: '# keep me\nalice:100000:65536\n' });
  const mod = fileURLToPath(new URL('./subid.js', import.meta.url));
  const script = `
    const { ensureSubIdRange } = await import(${JSON.stringify(mod)});
    const [path, who] = process.argv.slice(1);
    for (let j = 0; j < 5; j++) await ensureSubIdRange(path, { name: who + '-' + j, uid: 5000 + j }, { size: 1000 });
  `;
  const procs = 6;
  await Promise.all(
    Array.from({ length: procs }, (_, i) =>
      new Promise<void>((resolve, reject) => {
        execFile(process.execPath, ['--input-type=module', '-e', script, h.subuid, `p${i}`], { timeout: 60_000 }, (err, _o, stderr) =>
          err ? reject(new Error(`child ${i}: ${stderr}`, { cause: err })) : resolve(),
        );
      }),
    ),
  );
  const text = await readFile(h.subuid, 'utf8');
  assert.ok(text.startsWith('# keep me\nalice:100000:65536\n'));
  const entries = parseSubIdFile(text);
  assert.equal(entries.length, 1 + procs * 5);
  assert.equal(new Set(entries.map((e) => e.name)).size, entries.length);
  assertDisjoint(entries);
  assert.deepEqual((await readdir(h.dir)).sort(), ['group', 'passwd', 'subgid', 'subuid']);
});

test('a stale lock (dead pid) is removed; a live one times out as unavailable', async (t) => {
  const h = await fakeHost(t);
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  assert.ok(dead !== undefined && dead > 0);
  await writeFile(`${h.subuid}.lock`, String(dead));
  const got = await ensureSubIdRange(h.subuid, { name: 'x', uid: 1 });
  assert.equal(got[0]?.start, 100000);
  await writeFile(`${h.subuid}.lock`, String(process.ppid)); // alive
  await assert.rejects(
    withFileLock(h.subuid, async () => 'never', { timeoutMs: 150 }),
    (e: unknown) => e instanceof EngineError && e.kind === 'unavailable' && e.message.includes('.lock'),
  );
  await rm(`${h.subuid}.lock`);
});

test('named users must exist and have ranges; root turns remapping off; bad files are refused', async (t) => {
  const h = await fakeHost(t, { subuid: '1000:200000:65536\n' });
  assert.deepEqual(await ensureRemapRanges({ spec: 'root', ...paths(h) }), {
    enabled: false,
    warning: 'User namespaces: root cannot be remapped with itself; user namespaces are OFF',
  });
  await assert.rejects(ensureRemapRanges({ spec: 'nosuchuser', ...paths(h) }), /Error during uid lookup for "nosuchuser": getent unable to find entry "nosuchuser" in passwd database/);
  await assert.rejects(ensureRemapRanges({ spec: 'alice', ...paths(h) }), /Can't create ID mappings: no subgid ranges found for user "alice"/);
  await writeFile(h.subgid, 'alice:300000:65536\n');
  const r = await ensureRemapRanges({ spec: '1000', ...paths(h) });
  assert.ok(r.enabled);
  assert.deepEqual([r.user, r.group, r.uidStart, r.gidStart], ['alice', 'alice', 200000, 300000]);
  assert.deepEqual(h.created, []);
  await writeFile(h.subuid, 'garbage\n');
  await assert.rejects(ensureRemapRanges({ spec: 'default', ...paths(h) }), (e: unknown) => e instanceof EngineError && e.kind === 'invalid' && /line 1/.test(e.message));
  assert.equal(await readFile(h.subuid, 'utf8'), 'garbage\n');
});
