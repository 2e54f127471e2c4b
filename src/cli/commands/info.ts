// `moat info`: GET /info as JSON.
import type { Command } from 'commander';
import { daemonError, type CliContext } from '../common.js';

export function registerInfoCommand(program: Command, ctx: CliContext): void {
  program.command('info').action(async () => {
    try {
      process.stdout.write(JSON.stringify(await ctx.client().json('GET', '/info'), null, 2) + '\n');
    } catch (err) {
      throw daemonError(err);
    }
  });
}
