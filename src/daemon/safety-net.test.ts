import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../base/index.js';
import { installSafetyNet } from './safety-net.js';

function memoryLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'info' }, sink) as unknown as Logger, lines };
}

test('installSafetyNet() logs an uncaught exception and an unhandled rejection and counts them', async () => {
  const proc = new EventEmitter();
  const { log, lines } = memoryLogger();
  const counts = installSafetyNet(proc, log);
  const err = Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
  proc.emit('uncaughtException', err);
  proc.emit('unhandledRejection', new Error('ENOSPC: no space left on device'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(counts, { uncaughtExceptions: 1, unhandledRejections: 1 });
  assert.equal(lines.length, 2);
  assert.equal(lines[0]!['msg'], 'uncaught exception: moatd keeps running');
  assert.equal(lines[0]!['code'], 'ERR_STREAM_PREMATURE_CLOSE');
  assert.equal(lines[1]!['msg'], 'unhandled rejection: moatd keeps running');
});

test('installSafetyNet() survives a logger that throws', () => {
  const proc = new EventEmitter();
  const broken = { error: () => { throw new Error('EPIPE'); } } as unknown as Logger;
  const counts = installSafetyNet(proc, broken);
  assert.doesNotThrow(() => proc.emit('uncaughtException', new Error('x')));
  assert.equal(counts.uncaughtExceptions, 1);
});
