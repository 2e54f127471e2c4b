// `moat logs [-f] [-t] [-n N] [--since T] CONTAINER`
import type { Command } from 'commander';
import { ApiError, demux, readAll } from '../client.js';
import { daemonError, type CliContext } from '../common.js';

export function registerLogsCommand(program: Command, ctx: CliContext): void {
  program
    .command('logs')
    .argument('<container>')
    .option('-f, --follow', 'follow')
    .option('-t, --timestamps', 'show timestamps')
    .option('-n, --tail <n>', 'lines from the end', 'all')
    .option('--since <t>', 'since (unix seconds)')
    .action(async (id: string, o: { follow?: boolean; timestamps?: boolean; tail: string; since?: string }) => {
      const c = ctx.client;
      try {
        const info = await c().json<{ Id: string; Config: { Tty: boolean } }>('GET', `/containers/${id}/json`);
        const q = `stdout=1&stderr=1&tail=${encodeURIComponent(o.tail)}${o.follow ? '&follow=1' : ''}${o.timestamps ? '&timestamps=1' : ''}${o.since ? `&since=${o.since}` : ''}`;
        const res = await c().request('GET', `/containers/${info.Id}/logs?${q}`);
        if ((res.statusCode ?? 500) >= 400) throw new ApiError(res.statusCode ?? 500, JSON.parse((await readAll(res)).toString()).message);
        const onData = info.Config.Tty ? (d: Buffer) => process.stdout.write(d) : demux((s, d) => (s === 2 ? process.stderr : process.stdout).write(d));
        for await (const chunk of res) onData(chunk as Buffer);
      } catch (err) {
        throw daemonError(err);
      }
    });
}
