/**
 * `cairn admin create`: creates an admin account (or resets its password) directly in the
 * database, for the first admin or a lost password. Loaded only for this command. On the
 * embedded database it cannot run beside a server (the directory lock refuses); a running
 * server is changed through its admin API instead.
 */
import { databaseConnection } from '../app.js';
import { ACCOUNT_NAME, AccountService, ensureAdminChange } from '../auth/accounts.js';
import { passwordProblem } from '../auth/password-policy.js';
import type { CairnConfig } from '../config/config.js';
import { openDatabase } from '../metadata/database.js';
import { migrate } from '../metadata/migrate.js';
import { SYSTEM } from '../metadata/stores/audit.js';
import { Metadata } from '../metadata/stores/index.js';
import { UsageError } from './errors.js';

export async function createAdmin(config: CairnConfig, name: string): Promise<void> {
  if (!ACCOUNT_NAME.test(name)) {
    throw new UsageError(`--name: "${name}" is not an account name (1-63 of a-z, 0-9, ".", "_", "-", starting with a letter or digit)`);
  }
  const password = config.auth.adminPassword ?? (await readPassword());
  const database = await openDatabase(databaseConnection(config));
  try {
    await migrate(database);
    const metadata = new Metadata(database.db);
    const outcome = await new AccountService(metadata).ensureAdmin(name, password);
    // Recorded like the start-up admin (app.ts): an admin change made by Cairn on the operator's word.
    const change = ensureAdminChange(outcome);
    await metadata.stores.audit.record({ actor: SYSTEM, action: change.action, target: name, details: { ...change.details, from: 'cairn admin create' } });
    process.stdout.write(`admin "${name}" ${outcome === 'created' ? 'created' : 'password reset'}\n`);
  } finally {
    await database.db.destroy();
  }
}

/** The password from standard input (CAIRN_ADMIN_PASSWORD unset), checked before anything opens. */
async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('password: ');
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  const password = text.replace(/\r?\n$/, '');
  if (!password) throw new UsageError('no password: set CAIRN_ADMIN_PASSWORD or pipe the password on standard input');
  const problem = passwordProblem(password);
  if (problem) throw new UsageError(`the password on standard input is ${problem}`);
  return password;
}
