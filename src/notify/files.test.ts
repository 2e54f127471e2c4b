import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, readFileSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRuleTable, loadRuleTableSync, readDenials, followDenials, removeContainerState, appendJsonLineSync, JsonlAppender, lastSeqSync, denialsPath, rulesPath } from './files.js';
import type { DenialLine } from './policy.js';
import type { LinuxSeccomp } from '../seccomp/index.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'moat-notify-'));
const line = (seq: number, id = 'c1'): DenialLine => ({ kind: 'dropped', seq, time: new Date(seq * 1000).toISOString(), containerId: id, count: seq });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('writeRuleTable() writes a table the listener can load; bad ids are refused', async (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await writeRuleTable(dir, 'c1', { rules: [{ index: 2, names: ['keyctl'], errno: 1, comment: 'k' }], arch: 'SCMP_ARCH_X86_64', seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a'], action: 'SCMP_ACT_ALLOW' }, { names: ['b'], action: 'SCMP_ACT_ALLOW' }, { names: ['keyctl'], action: 'SCMP_ACT_NOTIFY', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }] }] } });
  assert.equal(statSync(rulesPath(dir, 'c1')).mode & 0o777, 0o600);
  assert.deepEqual(loadRuleTableSync(dir, 'c1'), { mode: 'enforce', arch: 'SCMP_ARCH_X86_64', rules: [{ index: 2, names: ['keyctl'], errno: 1, comment: 'k', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }] }] });
  assert.equal(loadRuleTableSync(dir, 'missing'), undefined);
  await assert.rejects(writeRuleTable(dir, '../x', { rules: [], arch: 'SCMP_ARCH_X86_64' }), /Invalid container id/);
});

test('loadRuleTableSync() parses a text once: containers with the same table share it, a changed or broken file is read again', async (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const rules = [{ index: 0, names: ['keyctl'], errno: 1 }];
  await writeRuleTable(dir, 'a', { rules, arch: 'SCMP_ARCH_X86_64' });
  await writeRuleTable(dir, 'b', { rules, arch: 'SCMP_ARCH_X86_64' });
  const a = loadRuleTableSync(dir, 'a');
  assert.ok(a?.mode === 'enforce');
  assert.equal(loadRuleTableSync(dir, 'b'), a, 'the same text: the same parsed table');
  await writeRuleTable(dir, 'b', { rules: [{ index: 0, names: ['add_key'], errno: 38 }], arch: 'SCMP_ARCH_X86_64' });
  const b = loadRuleTableSync(dir, 'b');
  assert.ok(b?.mode === 'enforce');
  assert.deepEqual(b.rules.map((r) => [r.names, r.errno]), [[['add_key'], 38]], 'a new text is parsed');
  writeFileSync(rulesPath(dir, 'b'), '{"mode":"enforce","arch":"SCMP_ARCH_X86_64","rules":[{"names":[1]}]}');
  assert.equal(loadRuleTableSync(dir, 'b'), undefined, 'an invalid table is never taken from the cache');
  rmSync(rulesPath(dir, 'a'));
  assert.equal(loadRuleTableSync(dir, 'a'), undefined, 'a removed file is gone, whatever was parsed before');
});

test('writeRuleTable() reuses the text made for the same rule list only while the other inputs are the same', async (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const rules = [{ index: 0, names: ['keyctl'], errno: 1, comment: 'k' }];
  const seccomp: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['keyctl'], action: 'SCMP_ACT_NOTIFY', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }] }] };
  await writeRuleTable(dir, 'c1', { rules, arch: 'SCMP_ARCH_X86_64', seccomp });
  await writeRuleTable(dir, 'c2', { rules, arch: 'SCMP_ARCH_X86_64', seccomp });
  assert.equal(readFileSync(rulesPath(dir, 'c2'), 'utf8'), readFileSync(rulesPath(dir, 'c1'), 'utf8'));
  // Another filter for the same rule list (its arguments changed), another mode: the table follows.
  const other: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['keyctl'], action: 'SCMP_ACT_NOTIFY', args: [{ index: 0, value: 2, op: 'SCMP_CMP_EQ' }] }] };
  await writeRuleTable(dir, 'c3', { rules, arch: 'SCMP_ARCH_X86_64', seccomp: other });
  const c3 = loadRuleTableSync(dir, 'c3');
  assert.ok(c3?.mode === 'enforce');
  assert.deepEqual(c3.rules[0]?.args, [{ index: 0, value: 2, op: 'SCMP_CMP_EQ' }]);
  await writeRuleTable(dir, 'c4', { rules, arch: 'SCMP_ARCH_X86_64', seccomp: other, mode: 'record' });
  assert.equal(loadRuleTableSync(dir, 'c4')?.mode, 'record');
});

test('appendJsonLineSync() and JsonlAppender rotate to .1; readDenials() reads both in order', async (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = denialsPath(dir, 'c1');
  for (let i = 1; i <= 10; i++) appendJsonLineSync(path, line(i), 400);
  assert.ok(existsSync(`${path}.1`));
  assert.ok(readFileSync(path).length <= 400);
  const all = await readDenials(dir, 'c1');
  assert.deepEqual(all.map((r) => r.seq), all.map((_, i) => 10 - all.length + 1 + i), 'a suffix of 1..10, in order');
  assert.equal(all.at(-1)?.seq, 10);
  assert.deepEqual((await readDenials(dir, 'c1', { last: 2 })).map((r) => r.seq), [9, 10]);
  assert.deepEqual((await readDenials(dir, 'c1', { sinceSeq: 8 })).map((r) => r.seq), [9, 10]);
  assert.equal(lastSeqSync(path), 10);

  const w = new JsonlAppender(path, 400);
  for (let i = 11; i <= 20; i++) w.append(line(i));
  w.close();
  assert.equal(lastSeqSync(path), 20);
  assert.equal((await readDenials(dir, 'c1')).at(-1)?.seq, 20);

  await removeContainerState(dir, 'c1');
  assert.deepEqual(await readDenials(dir, 'c1'), []);
  assert.ok(!existsSync(`${path}.1`));
});

test('followDenials() delivers new lines once, in order, across rotation and new containers', async (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  appendJsonLineSync(denialsPath(dir, 'old'), line(1, 'old'));
  const got: string[] = [];
  const f = followDenials(dir, { onRecord: (r) => got.push(`${r.containerId}:${r.seq}`), intervalMs: 20 });
  t.after(() => f.close());
  assert.equal(got.length, 0, 'existing lines are not replayed');
  const w = new JsonlAppender(denialsPath(dir, 'c1'), 300);
  for (let i = 1; i <= 12; i++) {
    w.append(line(i));
    if (i % 3 === 0) f.poll();
  }
  w.close();
  appendJsonLineSync(denialsPath(dir, 'old'), line(2, 'old'));
  const end = Date.now() + 2000;
  while (got.length < 13 && Date.now() < end) await sleep(20);
  assert.deepEqual(got.filter((x) => x.startsWith('c1:')), Array.from({ length: 12 }, (_, i) => `c1:${i + 1}`));
  assert.deepEqual(got.filter((x) => x.startsWith('old:')), ['old:2']);

  const all: string[] = [];
  const g = followDenials(dir, { onRecord: (r) => all.push(`${r.containerId}:${r.seq}`), fromStart: true });
  g.close();
  assert.ok(all.includes('old:1') && all.includes('c1:12'), 'fromStart replays what is on disk');
});

test('followDenials() on a state dir that does not exist yet reads its first files from the start', async (t) => {
  const root = tmp();
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'later');
  const got: number[] = [];
  const f = followDenials(dir, { onRecord: (r) => got.push(r.seq), intervalMs: 20 });
  t.after(() => f.close());
  mkdirSync(dir);
  appendJsonLineSync(denialsPath(dir, 'c1'), line(1));
  appendJsonLineSync(denialsPath(dir, 'c1'), line(2));
  const end = Date.now() + 2000;
  while (got.length < 2 && Date.now() < end) await sleep(20);
  assert.deepEqual(got, [1, 2]);
});
