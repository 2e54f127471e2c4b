import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goFileMode } from './archive.js';

const st = (mode: number, kind: 'dir' | 'link' | 'file' | 'chr' | 'fifo') => ({
  mode,
  isDirectory: () => kind === 'dir',
  isSymbolicLink: () => kind === 'link',
  isBlockDevice: () => false,
  isCharacterDevice: () => kind === 'chr',
  isFIFO: () => kind === 'fifo',
  isSocket: () => false,
});

test('goFileMode: Unix modes as Go os.FileMode, which the docker CLI decodes', () => {
  assert.equal(goFileMode(st(0o40755, 'dir')), 2 ** 31 + 0o755);
  assert.equal(goFileMode(st(0o120777, 'link')), 2 ** 27 + 0o777);
  assert.equal(goFileMode(st(0o100640, 'file')), 0o640);
  assert.equal(goFileMode(st(0o104755, 'file')), 2 ** 23 + 0o755, 'setuid');
  assert.equal(goFileMode(st(0o41777, 'dir')), 2 ** 31 + 2 ** 20 + 0o777, 'sticky');
  assert.equal(goFileMode(st(0o20666, 'chr')), 2 ** 26 + 2 ** 21 + 0o666);
  assert.equal(goFileMode(st(0o10644, 'fifo')), 2 ** 25 + 0o644);
});
