/**
 * The commands `cairn` knows: their help and how each runs. A command's implementation (and with
 * it the server stack) is imported only when that command runs, so `--help` and `--version`
 * answer at once; its configuration is resolved first, so a bad setting fails before anything
 * heavy loads or opens.
 */
import { loadConfig } from './load-config.js';
import { BUILD_WORKER_OPTIONS, CONFIG_OPTIONS, type OptionSpec, type ParsedOptions } from './options.js';
import { REMOTE_COMMANDS } from './remote/commands.js';
import { RETENTION_COMMANDS } from './retention-commands.js';
import { BUILD_COMMANDS } from './build/commands.js';
import { TLS_COMMANDS } from './tls-commands.js';

export interface Command {
  /** As typed: `serve`, `admin create`. */
  readonly name: string;
  readonly summary: string;
  readonly description: string;
  readonly options: readonly OptionSpec[];
  /** Words after the options' command name, as shown in help (`URL`); none when absent. */
  readonly arguments?: readonly string[];
  /** What to do instead when the embedded database is held by another process. */
  readonly whenDirectoryInUse: string;
  run(options: ParsedOptions): Promise<void>;
}

export const COMMANDS: readonly Command[] = [
  {
    name: 'serve',
    summary: 'run the registry',
    description: 'Runs the registry until SIGTERM or SIGINT. Settings come from these flags, the environment and a JSON config file, in that order (see README).',
    options: [...CONFIG_OPTIONS, ...BUILD_WORKER_OPTIONS],
    whenDirectoryInUse: 'stop it before starting another on the same --data-dir, give each its own --data-dir, or share a PostgreSQL database (DATABASE_URL)',
    async run(options) {
      const config = loadConfig(options, process.env, [...CONFIG_OPTIONS, ...BUILD_WORKER_OPTIONS]);
      await (await import('./serve.js')).serve(config);
    },
  },
  {
    name: 'migrate',
    summary: 'apply database migrations and exit',
    description: 'Applies the pending migrations to the database and exits (serve also applies them at start).',
    options: CONFIG_OPTIONS,
    whenDirectoryInUse: 'a running server has applied the migrations at its start; stop it to run cairn migrate',
    async run(options) {
      const config = loadConfig(options);
      await (await import('./migrate.js')).runMigrations(config);
    },
  },
  {
    name: 'admin create',
    summary: 'create an admin user (or reset its password)',
    description:
      'Creates an admin user, or resets its password, directly in the database. The password comes from CAIRN_ADMIN_PASSWORD or, when that is unset, from standard input. While a server runs, use its admin API instead (POST /api/v1/users with "admin": true).',
    options: [{ name: 'name', type: 'string', value: 'NAME', help: 'the account name (default admin)' }, ...CONFIG_OPTIONS],
    whenDirectoryInUse: 'stop that server first, or use its admin API (POST /api/v1/users with "admin": true)',
    async run(options) {
      const config = loadConfig(options);
      await (await import('./admin-create.js')).createAdmin(config, (options.values.name as string | undefined) ?? 'admin');
    },
  },
  {
    name: 'gc',
    summary: 'run one garbage collection pass now',
    description:
      'Reviews every due object on the garbage collection queues, follows chains, sweeps storage for bytes no row names, and prints what it deleted. Runs in this process on the configured database and storage, with the same rules and settings as the server (see README, Garbage collection).',
    options: [
      { name: 'dry-run', type: 'boolean', help: 'report what would be deleted; delete nothing' },
      { name: 'json', type: 'boolean', help: 'print the whole report as JSON' },
      ...CONFIG_OPTIONS,
    ],
    whenDirectoryInUse: 'stop that server first, or run a pass through its admin API (POST /api/v1/gc/runs)',
    async run(options) {
      const config = loadConfig(options);
      await (await import('./gc.js')).collectGarbage(config, { dryRun: options.values['dry-run'] === true, json: options.values.json === true });
    },
  },
  ...RETENTION_COMMANDS,
  ...BUILD_COMMANDS,
  ...REMOTE_COMMANDS,
  ...TLS_COMMANDS,
];

/** `help` is a command too, but it only prints: main.ts answers it without running anything. */
export const HELP_COMMAND = { name: 'help', summary: 'show help for a command: cairn help [COMMAND]' } as const;
