import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ProcessWatcher, commandLineOf } from './process-watch.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('ProcessWatcher reports a watched process once it exits, and only then', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const gone: string[] = [];
  const w = new ProcessWatcher((key) => gone.push(key), 20);
  try {
    assert.equal(w.watch('c1', child.pid!, (argv) => argv[0] === 'sleep' && argv[1] === '30'), 'watched');
    await sleep(100);
    assert.deepEqual(gone, []);
    child.kill('SIGKILL');
    for (let i = 0; i < 100 && gone.length === 0; i++) await sleep(10);
    assert.deepEqual(gone, ['c1']);
    assert.equal(w.has('c1'), false);
  } finally {
    w.close();
    child.kill('SIGKILL');
  }
});

test('ProcessWatcher refuses a process that is gone or is not the expected one', async () => {
  const w = new ProcessWatcher(() => assert.fail('nothing is watched'), 20);
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    assert.equal(w.watch('other', child.pid!, (argv) => argv.includes('conmon')), 'gone', 'the pid is another process');
    assert.equal(w.watch('bad', -1, () => true), 'unknown');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await sleep(20);
    assert.equal(w.watch('gone', child.pid!, () => true), 'gone', 'an exited process');
    assert.equal(commandLineOf(child.pid!), undefined);
  } finally {
    w.close();
  }
});
