// `moat images [-q]`
import type { Command } from 'commander';
import { daemonError, humanSize, table, type CliContext } from '../common.js';

export function registerImagesCommand(program: Command, ctx: CliContext): void {
  program.command('images').option('-q, --quiet', 'ids only').action(async (o: { quiet?: boolean }) => {
    try {
      const list = await ctx.client().json<Array<{ Id: string; RepoTags: string[]; Created: number; Size: number }>>('GET', '/images/json');
      if (o.quiet) {
        for (const i of list) process.stdout.write(`${i.Id.slice(7, 19)}\n`);
        return;
      }
      const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'SIZE']];
      for (const i of list) {
        const tags = i.RepoTags.length > 0 ? i.RepoTags : ['<none>:<none>'];
        for (const t of tags) {
          const k = t.lastIndexOf(':');
          rows.push([t.slice(0, k), t.slice(k + 1), i.Id.slice(7, 19), humanSize(i.Size)]);
        }
      }
      process.stdout.write(table(rows));
    } catch (err) {
      throw daemonError(err);
    }
  });
}
