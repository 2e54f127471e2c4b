/**
 * `docker build` (the classic builder of `POST /build`) and `docker commit`: Dockerfile
 * parsing and planning (pure), the build context, COPY/ADD through src/sys, the build cache,
 * and the executor that makes every step an ordinary moat container.
 *
 * @example
 * const ctx = await prepareContext(req, { workDir, dockerfile: 'Dockerfile' });
 * const image = await new Builder(ctx, options, { images, executor: new EngineExecutor(engine, images, log), cache, arch, log }, send).build();
 */
export { Builder, StepFailed, type BuildOptions, type BuildDeps } from './builder.js';
export { prepareContext, type BuildContext } from './context.js';
export { EngineExecutor, type StepExecutor, type StepSpec } from './executor.js';
export { BuildCache, cacheKey } from './cache.js';
export { commitContainer, commitConfig, isRuntimePath, type CommitRequest } from './commit.js';
export { errorLine, type BuildMessage } from './output.js';
export { parseDockerfile, type Instruction } from './dockerfile.js';
export { planStages, planStep, type BuildConfig } from './plan.js';
