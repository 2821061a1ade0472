/**
 * The Dockerfile frontend, pure (no I/O): `parse` reads the file, `planStages` cuts it into stages
 * and picks those the target needs, `resolveStage` turns one stage into the engine's steps once its
 * base image's config is known. Errors name the line (DockerfileSyntaxError, DockerfileUnsupportedError).
 */
export { parse } from './parser.js';
export { planStages } from './stages.js';
export { resolveStage } from './resolve.js';
export { dump } from './dump.js';
export { DockerfileError, DockerfileSyntaxError, DockerfileTargetError, DockerfileUnsupportedError } from './errors.js';
export type * from './model.js';
