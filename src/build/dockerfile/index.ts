/**
 * The Dockerfile frontend: parse, plan stages, resolve a stage into steps. Pure (no I/O).
 */
export { parse } from './parser.js';
export { dump } from './dump.js';
export { DockerfileError, DockerfileSyntaxError, DockerfileUnsupportedError, DockerfileTargetError } from './errors.js';
export type * from './model.js';
