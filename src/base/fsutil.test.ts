import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeStaleTempFiles, replaceFileAtomic, syncDir, writeFileAtomic } from './fsutil.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'moat-fsutil-'));
}

test('writeFileAtomic() replaces the file and leaves nothing else', async () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, 'rec.json'), 'old');
    await writeFileAtomic(join(dir, 'rec.json'), 'new');
    assert.equal(readFileSync(join(dir, 'rec.json'), 'utf8'), 'new');
    assert.deepEqual(readdirSync(dir), ['rec.json']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeFileAtomic() removes its temporary file when the write itself fails (issue 12, finding 8)', async () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, 'rec.json'), 'old');
    // A value writeFile refuses fails after the temporary file was opened, like ENOSPC does.
    await assert.rejects(writeFileAtomic(join(dir, 'rec.json'), 42 as unknown as string));
    assert.deepEqual(readdirSync(dir), ['rec.json'], 'no .tmp file left');
    assert.equal(readFileSync(join(dir, 'rec.json'), 'utf8'), 'old', 'the old file is untouched');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('replaceFileAtomic() replaces the file with its mode, and on a failed write keeps the old one and no temporary file', async () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, 'config.json'), 'old');
    await replaceFileAtomic(join(dir, 'config.json'), 'new', 0o640);
    assert.equal(readFileSync(join(dir, 'config.json'), 'utf8'), 'new');
    assert.equal(statSync(join(dir, 'config.json')).mode & 0o777, 0o640);
    assert.deepEqual(readdirSync(dir), ['config.json']);
    await assert.rejects(replaceFileAtomic(join(dir, 'config.json'), 42 as unknown as string));
    assert.deepEqual(readdirSync(dir), ['config.json'], 'no .tmp file left');
    assert.equal(readFileSync(join(dir, 'config.json'), 'utf8'), 'new');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeFileAtomic() makes a missing directory; a parent that is a file fails with ENOTDIR and writes nothing', async () => {
  const dir = tempDir();
  try {
    await writeFileAtomic(join(dir, 'a/b/rec.json'), 'x');
    assert.equal(readFileSync(join(dir, 'a/b/rec.json'), 'utf8'), 'x');
    assert.deepEqual(readdirSync(join(dir, 'a/b')), ['rec.json']);
    writeFileSync(join(dir, 'file'), 'old');
    await assert.rejects(writeFileAtomic(join(dir, 'file/rec.json'), 'x'), (err: NodeJS.ErrnoException) => err.code === 'ENOTDIR');
    await assert.rejects(replaceFileAtomic(join(dir, 'file/sub/rec.json'), 'x'), (err: NodeJS.ErrnoException) => err.code === 'ENOTDIR');
    assert.equal(readFileSync(join(dir, 'file'), 'utf8'), 'old');
    assert.deepEqual(readdirSync(dir).sort(), ['a', 'file']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('removeStaleTempFiles() removes only the temporary files of atomic writes', async () => {
  const dir = tempDir();
  try {
    for (const n of ['container.json', '.container.json.0a1b2c3d.tmp', '.config.json.ffffffff.tmp', 'notes.tmp', '.x.zz.tmp']) writeFileSync(join(dir, n), '');
    assert.deepEqual((await removeStaleTempFiles(dir)).sort(), ['.config.json.ffffffff.tmp', '.container.json.0a1b2c3d.tmp']);
    assert.deepEqual(readdirSync(dir).sort(), ['.x.zz.tmp', 'container.json', 'notes.tmp']);
    assert.deepEqual(await removeStaleTempFiles(join(dir, 'missing')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('syncDir() fsyncs a directory and fails for one that is missing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-syncdir-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await syncDir(dir);
  await assert.rejects(syncDir(join(dir, 'missing')), { code: 'ENOENT' });
});
