/**
 * `cairn retention plan|apply [--policy NAME] [--json]`, as entries of the command table
 * (commands.ts). Light on purpose: the implementation (retention.ts, and with it the registry
 * stack) is imported only when one of them runs.
 */
import type { Command } from './commands.js';
import { loadConfig } from './load-config.js';
import { CONFIG_OPTIONS, type OptionSpec } from './options.js';

const OPTIONS: readonly OptionSpec[] = [
  { name: 'policy', type: 'string', value: 'NAME', help: 'only this policy (default: every policy)' },
  { name: 'json', type: 'boolean', help: 'print JSON (the admin API\'s shape) instead of lines' },
  ...CONFIG_OPTIONS,
];

const IN_USE = 'use the running server\'s admin API instead (GET /api/v1/retention/plan, POST /api/v1/retention/runs), or stop it first';

export const RETENTION_COMMANDS: readonly Command[] = [
  {
    name: 'retention plan',
    summary: 'show what the retention policies would delete, and the bytes freed',
    description:
      'Prints the dry run of every retention policy (or of --policy): each decision with its rule and reason, the manifests removed, and the exact bytes and blobs no manifest would name any more. Changes nothing.',
    options: OPTIONS,
    whenDirectoryInUse: IN_USE,
    async run(options) {
      const config = loadConfig(options);
      await (await import('./retention.js')).retentionPlan(config, options.values.policy as string | undefined, options.values.json === true);
    },
  },
  {
    name: 'retention apply',
    summary: 'apply the retention policies now',
    description:
      'Runs every retention policy (or --policy) now, as the scheduler would: deletes the tags and manifests its plan names and prints what each run deleted. The bytes are freed by the garbage collector. A policy another process is running is refused (with --policy) or skipped.',
    options: OPTIONS,
    whenDirectoryInUse: IN_USE,
    async run(options) {
      const config = loadConfig(options);
      await (await import('./retention.js')).retentionApply(config, options.values.policy as string | undefined, options.values.json === true);
    },
  },
];
