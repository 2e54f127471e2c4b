// `moat rmi [-f] IMAGE…`: a failure is printed, the others still go; exit 1 if any failed.
import type { Command } from 'commander';
import { daemonError, type CliContext } from '../common.js';

export function registerRmiCommand(program: Command, ctx: CliContext): void {
  program.command('rmi').argument('<images...>').option('-f, --force', 'force').action(async (names: string[], o: { force?: boolean }) => {
    for (const n of names) {
      try {
        const out = await ctx.client().json<Array<Record<string, string>>>('DELETE', `/images/${n}?force=${o.force ? 1 : 0}`);
        for (const x of out) process.stdout.write(x['Untagged'] ? `Untagged: ${x['Untagged']}\n` : `Deleted: ${x['Deleted']}\n`);
      } catch (err) {
        process.stderr.write(`${daemonError(err).message}\n`);
        ctx.setExit(1);
      }
    }
  });
}
