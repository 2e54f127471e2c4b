// docker top's default row from /proc (top.ts topRow), as procps' `ps -ef` prints it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topRow } from './top.js';

/** A /proc/<pid>/stat line with the fields topRow reads; the rest zero. */
function stat(o: { pid: number; comm: string; ppid: number; tty?: number; utime: number; stime: number; start: number }): string {
  const f = new Array<number | string>(50).fill(0);
  f[0] = 'S';
  f[1] = o.ppid;
  f[4] = o.tty ?? 0;
  f[11] = o.utime;
  f[12] = o.stime;
  f[19] = o.start;
  return `${o.pid} (${o.comm}) ${f.join(' ')}\n`;
}

test('topRow: C, STIME, TTY and TIME as ps computes them; a name with spaces and parentheses', () => {
  const now = new Date(Date.UTC(2026, 11, 6, 10, 41, 30));
  // Up 38490 s; started 38430 s after boot (60 s ago), 30 s of CPU in its 60 s: 50 %.
  const row = topRow({ pid: 42, uid: '0', stat: stat({ pid: 42, comm: 'my (odd) sh', ppid: 7, utime: 2000, stime: 1000, start: 3843000 }), cmdline: 'sh\0-c\0while :; do :; done\0' }, 38490, now);
  const local = new Date(now.getTime() - 60_000);
  const hhmm = `${String(local.getHours()).padStart(2, '0')}:${String(local.getMinutes()).padStart(2, '0')}`;
  assert.deepEqual(row, ['root', '42', '7', '50', hhmm, '?', '00:00:30', 'sh -c while :; do :; done']);
  // pts/3 (major 136), a day and more of CPU, a user by number, no command line (kernel thread or zombie).
  const old = topRow({ pid: 9, uid: '1000', stat: stat({ pid: 9, comm: 'kworker', ppid: 2, tty: (136 << 8) | 3, utime: 9_000_000, stime: 0, start: 0 }), cmdline: '' }, 3 * 86400, now);
  assert.deepEqual(old?.slice(0, 3), ['1000', '9', '2']);
  assert.equal(old?.[5], 'pts/3');
  assert.equal(old?.[6], '01-01:00:00');
  assert.equal(old?.[7], '[kworker]');
  assert.match(old?.[4] ?? '', /^Dec\d\d$/, 'started days ago, this year: MonDD');
  assert.equal(topRow({ pid: 1, uid: '0', stat: 'garbage', cmdline: '' }, 38490, now), undefined);
});
