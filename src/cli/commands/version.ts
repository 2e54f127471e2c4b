// `moat version`
import type { Command } from 'commander';
import { daemonError, type CliContext } from '../common.js';

export function registerVersionCommand(program: Command, ctx: CliContext): void {
  program.command('version').action(async () => {
    try {
      const v = await ctx.client().json<{ Version: string; ApiVersion: string; Components: Array<{ Name: string; Version: string }> }>('GET', '/version');
      process.stdout.write(`Server: moat ${v.Version} (API ${v.ApiVersion})\n${v.Components.map((x) => ` ${x.Name}: ${x.Version}`).join('\n')}\n`);
    } catch (err) {
      throw daemonError(err);
    }
  });
}
