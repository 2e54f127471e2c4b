// `moat tag SOURCE TARGET`
import type { Command } from 'commander';
import { daemonError, type CliContext } from '../common.js';

export function registerTagCommand(program: Command, ctx: CliContext): void {
  program.command('tag').argument('<source>').argument('<target>').action(async (src: string, target: string) => {
    const k = target.lastIndexOf(':');
    const [repo, tag] = k > target.lastIndexOf('/') ? [target.slice(0, k), target.slice(k + 1)] : [target, 'latest'];
    try {
      await ctx.client().call('POST', `/images/${src}/tag?repo=${encodeURIComponent(repo)}&tag=${encodeURIComponent(tag)}`);
    } catch (err) {
      throw daemonError(err);
    }
  });
}
