// `moat wait CONTAINER…`: prints each exit code.
import type { Command } from 'commander';
import { daemonError, type CliContext } from '../common.js';

export function registerWaitCommand(program: Command, ctx: CliContext): void {
  program.command('wait').argument('<containers...>').action(async (ids: string[]) => {
    for (const id of ids) {
      try {
        const r = await ctx.client().json<{ StatusCode: number }>('POST', `/containers/${id}/wait`);
        process.stdout.write(`${r.StatusCode}\n`);
      } catch (err) {
        throw daemonError(err);
      }
    }
  });
}
