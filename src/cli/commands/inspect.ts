// `moat inspect [--type container|image] NAME…`: JSON array, as the docker CLI prints it.
import type { Command } from 'commander';
import { ApiError } from '../client.js';
import { ExitError, daemonError, type CliContext } from '../common.js';

export function registerInspectCommand(program: Command, ctx: CliContext): void {
  program.command('inspect').argument('<names...>').option('--type <kind>', 'container or image').action(async (names: string[], o: { type?: string }) => {
    const out: unknown[] = [];
    for (const n of names) {
      const kinds = o.type ? [o.type] : ['container', 'image'];
      let found = false;
      for (const k of kinds) {
        try {
          out.push(await ctx.client().json('GET', k === 'image' ? `/images/${n}/json` : `/containers/${n}/json`));
          found = true;
          break;
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 404)) throw daemonError(err);
        }
      }
      if (!found) {
        process.stdout.write(JSON.stringify(out, null, 4) + '\n');
        throw new ExitError(1, `Error: No such object: ${n}`);
      }
    }
    process.stdout.write(JSON.stringify(out, null, 4) + '\n');
  });
}
