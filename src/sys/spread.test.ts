// The placement hint for directories with one subdirectory per container (FS_TOPDIR_FL).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spreadSubdirectories } from './index.js';

function attrs(path: string): string {
  return execFileSync('lsattr', ['-d', path], { encoding: 'utf8' }).split(' ')[0]!;
}

test('spreadSubdirectories sets the T attribute on ext4 and answers as lsattr says', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-spread-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fsType = execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
  assert.doesNotMatch(attrs(dir), /T/);
  const set = spreadSubdirectories(dir);
  assert.equal(set, fsType === 'ext2/ext3', `${fsType}: ${String(set)}`);
  if (set) assert.match(attrs(dir), /T/);
  assert.equal(spreadSubdirectories(dir), set, 'a second call changes nothing');
});

test('spreadSubdirectories: false on tmpfs, for a missing path or a file', { skip: execFileSync('stat', ['-f', '-c', '%T', '/dev/shm'], { encoding: 'utf8' }).trim() !== 'tmpfs' ? 'no tmpfs at /dev/shm' : false }, (t) => {
  const dir = mkdtempSync('/dev/shm/moat-spread-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal(spreadSubdirectories(dir), false);
  assert.equal(spreadSubdirectories(join(dir, 'missing')), false);
  writeFileSync(join(dir, 'file'), '');
  assert.equal(spreadSubdirectories(join(dir, 'file')), false);
});

test('spreadSubdirectories follows a data root given as a symlink', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-spread-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'real'));
  symlinkSync(join(dir, 'real'), join(dir, 'link'));
  const set = spreadSubdirectories(join(dir, 'link'));
  assert.equal(set, execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim() === 'ext2/ext3');
  if (set) assert.match(attrs(join(dir, 'real')), /T/);
});
