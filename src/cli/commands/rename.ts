// `moat rename CONTAINER NEW-NAME`
import type { Command } from 'commander';
import { daemonError, type CliContext } from '../common.js';

export function registerRenameCommand(program: Command, ctx: CliContext): void {
  program.command('rename').argument('<container>').argument('<new-name>').action(async (id: string, name: string) => {
    try {
      await ctx.client().call('POST', `/containers/${id}/rename?name=${encodeURIComponent(name)}`);
    } catch (err) {
      throw daemonError(err);
    }
  });
}
