// `moat top CONTAINER`
import type { Command } from 'commander';
import { daemonError, table, type CliContext } from '../common.js';

export function registerTopCommand(program: Command, ctx: CliContext): void {
  program.command('top').argument('<container>').action(async (id: string) => {
    try {
      const t = await ctx.client().json<{ Titles: string[]; Processes: string[][] }>('GET', `/containers/${id}/top`);
      process.stdout.write(table([t.Titles, ...t.Processes]));
    } catch (err) {
      throw daemonError(err);
    }
  });
}
