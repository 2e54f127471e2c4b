// `docker top` with `ps` options: the host's ps output, kept to the container's rows. Pure.
import { invalid } from '../base/index.js';

/**
 * `ps` output -> Docker's top JSON, keeping rows whose PID is in `pids` (moby `daemon/top_unix.go`).
 *
 * @example
 * parsePsOutput('UID PID CMD\nroot 42 sh\n', new Set(['42'])) // { Titles: ['UID', 'PID', 'CMD'], Processes: [['root', '42', 'sh']] }
 */
export function parsePsOutput(out: string, pids: ReadonlySet<string>): { Titles: string[]; Processes: string[][] } {
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  const titles = (lines[0] ?? '').trim().split(/\s+/);
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw invalid("Couldn't find PID field in ps output");
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (!pids.has(fields[pidIndex] ?? '')) continue;
    // The last column (the command) may contain spaces.
    processes.push([...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')]);
  }
  return { Titles: titles, Processes: processes };
}
