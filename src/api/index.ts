/**
 * The Docker Engine API server: routes, version prefixes, hijacked streams.
 *
 * @example
 * const server = createApiServer({ router: buildRouter(deps), log });
 */
import type { Logger } from '../base/index.js';
import type { Engine } from '../engine/index.js';
import type { ImageService, ImageStore } from '../image/index.js';
import { Router } from './router.js';
import { registerContainerRoutes, registerExecRoutes } from './routes/containers.js';
import { registerImageRoutes } from './routes/images.js';
import { registerSystemRoutes, type SystemInfo } from './routes/system.js';
import { registerVolumeRoutes } from './routes/volumes.js';
import { registerBuildRoutes } from './routes/build.js';
import { registerNetworkRoutes, type NetworkRouteDeps } from './routes/networks.js';

export { createApiServer, DEFAULT_BODY_TIMEOUT_MS, type Authorizer, type AuthzRequest, type PeerIdentityMode } from './server.js';
export { API_VERSION, MIN_API_VERSION } from './reply.js';
export { BodyBudget, DEFAULT_BODY_BUDGET_TOTAL, DEFAULT_BODY_BUDGET_PER_CALLER } from './body-budget.js';
export { Router } from './router.js';
export { describeHostPaths, type DescribePath } from './errors.js';
export { frame, parseFrames } from './stream.js';
export type { SystemInfo } from './routes/system.js';

export interface RouterDeps {
  engine: Engine;
  images: ImageStore;
  info: SystemInfo;
  /** Pull, push, login, trust (registry routes answer 501 without it). */
  imageService?: ImageService;
  log: Logger;
  /** Bridge networks (the /networks routes, NetworkSettings); without it containers show none. */
  network?: NetworkRouteDeps;
}

export function buildRouter(d: RouterDeps): Router {
  const r = new Router();
  // Before the system routes' answers for a daemon without networks (the first match wins).
  if (d.network) registerNetworkRoutes(r, d.engine, d.network);
  registerSystemRoutes(r, d.engine, d.images, d.info);
  registerContainerRoutes(r, { engine: d.engine, images: d.images, ...(d.network ? { network: d.network } : {}) });
  registerExecRoutes(r, { engine: d.engine });
  registerImageRoutes(r, { engine: d.engine, images: d.images, log: d.log, ...(d.imageService ? { service: d.imageService } : {}) });
  registerVolumeRoutes(r, d.engine);
  registerBuildRoutes(r, { engine: d.engine, images: d.images, log: d.log, arch: goArch(), ...(d.imageService ? { service: d.imageService } : {}) });
  return r;
}
export { goArch } from './routes/images.js';
import { goArch } from './routes/images.js';
