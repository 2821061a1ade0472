/**
 * `cairn build` (the client: loads only src/cli/build, never the server) and `cairn worker` (build
 * workers alone, against PostgreSQL and the shared blob store), as entries of the command table.
 */
import type { Command } from '../commands.js';
import { loadConfig } from '../load-config.js';
import { BUILD_WORKER_OPTIONS, CONFIG_OPTIONS, type OptionSpec } from '../options.js';

export const BUILD_OPTIONS: readonly OptionSpec[] = [
  { name: 'registry', type: 'string', value: 'URL', help: 'the Cairn server (default: the tags\' registry host; http for loopback, else https)' },
  { name: 'file', short: 'f', type: 'string', value: 'PATH', help: 'the Dockerfile, inside CONTEXT (default CONTEXT/Dockerfile)' },
  { name: 'target', type: 'string', value: 'STAGE', help: 'build this stage' },
  { name: 'build-arg', type: 'string', value: 'K=V', multiple: true, help: 'a build argument (repeatable)' },
  { name: 'tag', short: 't', type: 'string', value: 'REPO:TAG', multiple: true, help: 'a target, HOST/REPO:TAG (repeatable; at least one)' },
  { name: 'cache-branch', type: 'string', value: 'B', help: 'read and write the cache of this branch (default: the repository\'s default branch)' },
  { name: 'no-cache', type: 'boolean', help: 'run every step' },
  { name: 'progress', type: 'string', value: 'plain|tty|auto', help: 'plain: BuildKit\'s plain lines; tty: a live view (default auto: tty on a terminal)' },
];

export const BUILD_COMMANDS: readonly Command[] = [
  {
    name: 'build',
    summary: 'build a Dockerfile on a Cairn server and push the image',
    description:
      'cairn build [options] CONTEXT. Packs CONTEXT (honouring .dockerignore), uploads it to the server\'s builds API, follows the build live and ends with a cache report. Credentials come from docker\'s config (docker login HOST). Exit status 0 when the build succeeded, 1 when it failed, 2 for a usage mistake.',
    options: BUILD_OPTIONS,
    arguments: ['CONTEXT'],
    whenDirectoryInUse: 'not applicable',
    async run(options) {
      await (await import('./run.js')).build(options);
    },
  },
  {
    name: 'worker',
    summary: 'run build workers alone, against PostgreSQL and the shared blob store',
    description:
      'Runs --build-workers N (default 1) build workers in this process until SIGTERM, taking jobs from the queue in PostgreSQL (DATABASE_URL) and reading and writing blobs in the same storage as the servers (filesystem or S3). On SIGTERM a running build may finish for a few seconds, then goes back to the queue.',
    options: [...CONFIG_OPTIONS, ...BUILD_WORKER_OPTIONS],
    whenDirectoryInUse: 'on the embedded database the server runs the build workers itself (cairn serve --build-workers N)',
    async run(options) {
      const config = loadConfig(options, process.env, [...CONFIG_OPTIONS, ...BUILD_WORKER_OPTIONS]);
      await (await import('../worker.js')).runWorkers(config);
    },
  },
];
