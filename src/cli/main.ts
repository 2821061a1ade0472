/**
 * The `cairn` command line: `serve` runs the registry, `migrate` applies database migrations.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { createApp, createLogger, databaseConnection } from '../app.js';
import { ConfigError, fromEnvironment, fromFile, resolveConfig, type CairnConfig, type ConfigInput } from '../config/config.js';
import { AccountError, AccountService } from '../auth/accounts.js';
import { openDatabase } from '../metadata/database.js';
import { Metadata } from '../metadata/stores/index.js';
import { migrate } from '../metadata/migrate.js';
import { RETENTION_USAGE, retentionCommand } from './retention.js';

const USAGE = `usage: cairn <command> [options]

commands:
  serve     run the registry
  migrate   apply database migrations and exit
  admin create [--name NAME]
            create an admin user (or reset its password); the password comes from
            CAIRN_ADMIN_PASSWORD or, when that is unset, from standard input
${RETENTION_USAGE}
  help      show this text

options (also from the environment or a JSON config file):
  --listen HOST:PORT     address to listen on (CAIRN_LISTEN; default 127.0.0.1:5000)
  --data-dir DIR         blobs and the embedded database (CAIRN_DATA_DIR; default ./data)
  --database-url URL     PostgreSQL instead of the embedded database (DATABASE_URL)
  --storage KIND         filesystem (default) or s3 (CAIRN_STORAGE); s3 reads CAIRN_S3_ENDPOINT,
                         CAIRN_S3_BUCKET, CAIRN_S3_REGION, CAIRN_S3_PREFIX, CAIRN_S3_FORCE_PATH_STYLE,
                         AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (see README)
  --config FILE          JSON config file (CAIRN_CONFIG)
  --log-level LEVEL      pino log level (CAIRN_LOG_LEVEL; default info)
  --allow-open           serve without authentication on a non-loopback address
                         when no admin exists (CAIRN_ALLOW_OPEN)
`;

export async function main(argv: string[]): Promise<void> {
  try {
    await run(argv);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`cairn: ${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`cairn: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  }
}

async function run(argv: string[]): Promise<void> {
  const [command = 'help', ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return;
  }
  if (command === 'admin') return adminCommand(rest);
  if (command === 'retention') return retentionCommand(rest, CONFIG_OPTIONS, configFrom);
  const config = loadConfig(rest);
  if (command === 'serve') return serve(config);
  if (command === 'migrate') return runMigrations(config);
  throw new ConfigError(`unknown command "${command}"\n${USAGE}`);
}

const CONFIG_OPTIONS = {
  listen: { type: 'string' },
  'data-dir': { type: 'string' },
  'database-url': { type: 'string' },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  'allow-open': { type: 'boolean' },
  storage: { type: 'string' },
} as const;

function loadConfig(args: string[]): CairnConfig {
  const { values } = parseArgs({ args, options: CONFIG_OPTIONS, strict: true });
  return configFrom(values);
}

function configFrom(values: { listen?: string; 'data-dir'?: string; 'database-url'?: string; config?: string; 'log-level'?: string; 'allow-open'?: boolean; storage?: string }): CairnConfig {
  const flags: ConfigInput = {
    listen: values.listen,
    dataDir: values['data-dir'],
    databaseUrl: values['database-url'],
    logLevel: values['log-level'],
    allowOpen: values['allow-open'],
    storage: values.storage,
  };
  const configFile = values.config ?? process.env.CAIRN_CONFIG;
  return resolveConfig(flags, fromEnvironment(process.env), configFile ? fromFile(configFile) : {});
}

async function adminCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'create') throw new ConfigError(`unknown admin command "${sub ?? ''}" (try: cairn admin create)`);
  const { values } = parseArgs({ args: rest, options: { ...CONFIG_OPTIONS, name: { type: 'string' } }, strict: true });
  const config = configFrom(values);
  const password = config.auth.adminPassword ?? (await readStdin()).trim();
  if (!password) throw new ConfigError('no password: set CAIRN_ADMIN_PASSWORD or pipe it on standard input');
  const name = values.name ?? 'admin';
  const database = await openDatabase(databaseConnection(config));
  try {
    await migrate(database);
    const outcome = await new AccountService(new Metadata(database.db)).ensureAdmin(name, password);
    process.stdout.write(`admin "${name}" ${outcome === 'created' ? 'created' : 'password reset'}\n`);
  } catch (error) {
    if (error instanceof AccountError) throw new ConfigError(error.message);
    throw error;
  } finally {
    await database.db.destroy();
  }
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('password: ');
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text;
}

async function serve(config: CairnConfig): Promise<void> {
  const logger = createLogger(config.logLevel);
  const app = await createApp(config, logger);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await app.listen();
}

async function runMigrations(config: CairnConfig): Promise<void> {
  const database = await openDatabase(databaseConnection(config));
  try {
    const { applied } = await migrate(database);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
  } finally {
    await database.db.destroy();
  }
}
