import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRuncState } from './runc-direct.js';

const state = (pid: number): string => JSON.stringify({ id: 'c', init_process_pid: pid, init_process_start: 77, config: {} });

test('readRuncState() parses a state.json once while the file is the same; a file runc writes again is read again', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-runc-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal(readRuncState(dir), undefined, 'no state.json');
  writeFileSync(join(dir, 'state.json'), state(41));
  const first = readRuncState(dir);
  assert.equal(first?.init_process_pid, 41);
  assert.equal(readRuncState(dir), first, 'the same file: the same parsed state');
  // runc replaces the file (temp file, rename): another inode, whatever its size.
  writeFileSync(join(dir, 'tmp'), state(42));
  renameSync(join(dir, 'tmp'), join(dir, 'state.json'));
  assert.equal(readRuncState(dir)?.init_process_pid, 42);
  writeFileSync(join(dir, 'state.json'), '{"init_process_pid":"x"}');
  assert.equal(readRuncState(dir), undefined, 'an unreadable state is never answered from the cache');
  rmSync(join(dir, 'state.json'));
  assert.equal(readRuncState(dir), undefined, 'a removed state is gone');
});
