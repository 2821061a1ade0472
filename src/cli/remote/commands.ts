/**
 * The admin CLI: `cairn login URL`, then `cairn users|robots|permissions|tokens list|create|delete`
 * and `cairn caches list|show` over the admin REST API with the stored login. Entries of the
 * command table (../commands.ts). Nothing here loads server code: a remote command needs only
 * fetch, so `--help` stays fast. `--json` prints the API's own answer.
 */
import type { Command } from '../commands.js';
import { UsageError } from '../errors.js';
import type { OptionSpec, ParsedOptions } from '../options.js';
import { ApiClient, passwordLogin, serverUrl } from './client.js';
import { credentialsPath, loadLogin, saveLogin } from './credentials.js';
import { prompt, promptHidden, readStdin } from './input.js';

const JSON_OPTION: OptionSpec = { name: 'json', type: 'boolean', help: "print the admin API's JSON answer" };
const ACCOUNT_OPTION: OptionSpec = { name: 'account', type: 'string', value: 'NAME', help: 'the account (default: the one logged in)' };
const NOT_LOCAL = 'not applicable: this command talks to a server';

/** What a command shows: the API's answer for --json, lines for people. */
interface Shown {
  readonly json: unknown;
  readonly text: string;
}

interface RemoteSpec {
  readonly name: string;
  readonly summary: string;
  readonly description: string;
  readonly arguments?: readonly string[];
  readonly options?: readonly OptionSpec[];
  run(api: ApiClient, args: readonly string[], values: ParsedOptions['values'], username: string): Promise<Shown>;
}

const enc = encodeURIComponent;
/** Repository names keep their slashes: the API routes them as path segments. */
const encName = (name: string) => name.split('/').map(enc).join('/');

/** Aligned columns, header first; `-` for null. */
function table(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<unknown>>): string {
  const cells = [headers, ...rows.map((r) => r.map((v) => (v === null || v === undefined ? '-' : Array.isArray(v) ? v.join(',') : String(v))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

function required(args: readonly string[], names: readonly string[], command: string): void {
  if (args.length < names.length) throw new UsageError(`cairn ${command} needs ${names.slice(args.length).join(' ')}; run cairn ${command} --help`);
}

type Account = { name: string; kind: string; admin: boolean; disabled: boolean; description: string | null; createdAt: string };
type Token = { account: string; name: string; createdAt: string; expiresAt: string | null; revokedAt: string | null; lastUsedAt: string | null };
type Permission = { id: number; account: string | null; anonymous: boolean; pattern: string; actions: string[]; createdAt: string };
type CacheSummary = { repository: string; tag: string; branch: string | null; format: string; layers: number; totalBytes: number; uniqueBytes: number; [k: string]: unknown };

const accountRows = (accounts: Account[]) =>
  table(['NAME', 'ADMIN', 'DISABLED', 'CREATED'], accounts.map((a) => [a.name, a.admin, a.disabled, a.createdAt]));

async function newPassword(values: ParsedOptions['values']): Promise<string> {
  if (values['password-stdin']) return readStdin();
  const first = await promptHidden('Password: ');
  if ((await promptHidden('Again: ')) !== first) throw new UsageError('the passwords differ');
  return first;
}

const SPECS: readonly RemoteSpec[] = [
  {
    name: 'users list',
    summary: 'list user accounts',
    description: 'Lists the user accounts (GET /api/v1/users).',
    async run(api) {
      const answer = await api.call<{ users: Account[] }>('GET', '/users');
      return { json: answer, text: accountRows(answer.users) };
    },
  },
  {
    name: 'users create',
    summary: 'create a user account',
    description: 'Creates a user (POST /api/v1/users). The password is asked for twice on a terminal, or read from standard input with --password-stdin.',
    arguments: ['NAME'],
    options: [
      { name: 'admin', type: 'boolean', help: 'make the user an admin' },
      { name: 'password-stdin', type: 'boolean', help: 'read the password from standard input' },
    ],
    async run(api, [name], values) {
      const password = await newPassword(values);
      const answer = await api.call<Account>('POST', '/users', { name, password, ...(values.admin ? { admin: true } : {}) });
      return { json: answer, text: `created user ${answer.name}${answer.admin ? ' (admin)' : ''}` };
    },
  },
  {
    name: 'users delete',
    summary: 'disable a user account',
    description:
      'Disables a user (PATCH /api/v1/users/NAME {"disabled": true}): it can no longer log in and its tokens stop working. Accounts are kept, not erased, so the audit log keeps naming who did what.',
    arguments: ['NAME'],
    async run(api, [name]) {
      const answer = await api.call<Account>('PATCH', `/users/${enc(name!)}`, { disabled: true });
      return { json: answer, text: `disabled user ${answer.name}` };
    },
  },
  {
    name: 'robots list',
    summary: 'list robot accounts',
    description: 'Lists the robot accounts (GET /api/v1/robots).',
    async run(api) {
      const answer = await api.call<{ robots: Account[] }>('GET', '/robots');
      return { json: answer, text: table(['NAME', 'DISABLED', 'DESCRIPTION', 'CREATED'], answer.robots.map((r) => [r.name, r.disabled, r.description, r.createdAt])) };
    },
  },
  {
    name: 'robots create',
    summary: 'create a robot account and print its secret (shown once)',
    description: 'Creates a robot (POST /api/v1/robots) and prints its secret, which is shown this once.',
    arguments: ['NAME'],
    options: [{ name: 'description', type: 'string', value: 'TEXT', help: 'what the robot is for' }],
    async run(api, [name], values) {
      const description = values.description as string | undefined;
      const answer = await api.call<Account & { secret: string }>('POST', '/robots', { name, ...(description ? { description } : {}) });
      return { json: answer, text: `created robot ${answer.name}\nsecret (shown once): ${answer.secret}` };
    },
  },
  {
    name: 'robots delete',
    summary: 'disable a robot account',
    description: 'Disables a robot (PATCH /api/v1/robots/NAME {"disabled": true}): its secret stops working. Accounts are kept for the audit log.',
    arguments: ['NAME'],
    async run(api, [name]) {
      const answer = await api.call<Account>('PATCH', `/robots/${enc(name!)}`, { disabled: true });
      return { json: answer, text: `disabled robot ${answer.name}` };
    },
  },
  {
    name: 'permissions list',
    summary: 'list permission grants',
    description: 'Lists every grant of actions on repository patterns (GET /api/v1/permissions).',
    async run(api) {
      const answer = await api.call<{ permissions: Permission[] }>('GET', '/permissions');
      const who = (p: Permission) => (p.anonymous ? '(anonymous)' : p.account);
      return { json: answer, text: table(['ID', 'ACCOUNT', 'PATTERN', 'ACTIONS'], answer.permissions.map((p) => [p.id, who(p), p.pattern, p.actions])) };
    },
  },
  {
    name: 'permissions create',
    summary: 'grant actions on a repository pattern',
    description: 'Grants an account (or, with --anonymous, every caller without credentials) actions on the repositories a glob matches (POST /api/v1/permissions).',
    options: [
      { name: 'account', type: 'string', value: 'NAME', help: 'the account granted' },
      { name: 'anonymous', type: 'boolean', help: 'grant callers without credentials instead' },
      { name: 'pattern', type: 'string', value: 'GLOB', help: 'repository glob: team/app, team/*, team/**, **' },
      { name: 'actions', type: 'string', value: 'LIST', help: 'comma-separated: pull, push, delete, admin' },
    ],
    async run(api, _args, values) {
      const { account, pattern, actions } = values as Record<string, string | undefined>;
      if (!pattern || !actions) throw new UsageError('cairn permissions create needs --pattern and --actions');
      if (!account === !values.anonymous) throw new UsageError('cairn permissions create needs one of --account NAME or --anonymous');
      const body = { ...(account ? { account } : { anonymous: true }), pattern, actions: actions.split(',').map((a) => a.trim()) };
      const answer = await api.call<Permission>('POST', '/permissions', body);
      return { json: answer, text: `granted ${answer.actions.join(',')} on ${answer.pattern} to ${answer.anonymous ? 'anonymous callers' : answer.account} (id ${answer.id})` };
    },
  },
  {
    name: 'permissions delete',
    summary: 'revoke a permission grant',
    description: 'Revokes a grant by its id (DELETE /api/v1/permissions/ID; ids are in cairn permissions list).',
    arguments: ['ID'],
    async run(api, [id]) {
      if (!/^[1-9][0-9]{0,15}$/.test(id!)) throw new UsageError(`"${id}" is not a permission id (a positive number; see cairn permissions list)`);
      await api.call('DELETE', `/permissions/${id}`);
      return { json: { deleted: Number(id) }, text: `revoked permission ${id}` };
    },
  },
  {
    name: 'tokens list',
    summary: "list an account's personal access tokens",
    description: 'Lists the personal access tokens of an account (GET /api/v1/accounts/NAME/tokens); the secrets are never shown again.',
    options: [ACCOUNT_OPTION],
    async run(api, _args, values, username) {
      const account = (values.account as string | undefined) ?? username;
      const answer = await api.call<{ tokens: Token[] }>('GET', `/accounts/${enc(account)}/tokens`);
      const rows = answer.tokens.map((t) => [t.name, t.createdAt, t.expiresAt, t.revokedAt, t.lastUsedAt]);
      return { json: answer, text: table(['NAME', 'CREATED', 'EXPIRES', 'REVOKED', 'LAST USED'], rows) };
    },
  },
  {
    name: 'tokens create',
    summary: 'create a personal access token and print it (shown once)',
    description: 'Creates a personal access token for an account (POST /api/v1/accounts/NAME/tokens) and prints its secret, shown this once.',
    arguments: ['NAME'],
    options: [ACCOUNT_OPTION, { name: 'expires-at', type: 'string', value: 'TIME', help: 'RFC 3339 expiry, e.g. 2027-01-01T00:00:00Z (default: never)' }],
    async run(api, [name], values, username) {
      const account = (values.account as string | undefined) ?? username;
      const expiresAt = values['expires-at'] as string | undefined;
      const answer = await api.call<Token & { secret: string }>('POST', `/accounts/${enc(account)}/tokens`, { name, ...(expiresAt ? { expiresAt } : {}) });
      return { json: answer, text: `created token ${answer.name} for ${answer.account}\nsecret (shown once): ${answer.secret}` };
    },
  },
  {
    name: 'tokens delete',
    summary: 'revoke a personal access token',
    description: "Revokes one of an account's personal access tokens by name (DELETE /api/v1/accounts/NAME/tokens/TOKEN).",
    arguments: ['NAME'],
    options: [ACCOUNT_OPTION],
    async run(api, [name], values, username) {
      const account = (values.account as string | undefined) ?? username;
      await api.call('DELETE', `/accounts/${enc(account)}/tokens/${enc(name!)}`);
      return { json: { account, revoked: name }, text: `revoked token ${name} of ${account}` };
    },
  },
  {
    name: 'caches list',
    summary: 'list BuildKit caches',
    description: 'Lists the BuildKit caches pushed (GET /api/v1/caches), or those of one repository with --repository.',
    options: [{ name: 'repository', type: 'string', value: 'NAME', help: 'only this repository' }],
    async run(api, _args, values) {
      const repository = values.repository as string | undefined;
      const answer = await api.call<{ caches: CacheSummary[] }>('GET', repository ? `/repositories/${encName(repository)}/caches` : '/caches');
      const rows = answer.caches.map((c) => [c.repository, c.tag, c.branch, c.format, c.layers, c.totalBytes, c.uniqueBytes]);
      return { json: answer, text: table(['REPOSITORY', 'TAG', 'BRANCH', 'FORMAT', 'LAYERS', 'BYTES', 'UNIQUE BYTES'], rows) };
    },
  },
  {
    name: 'caches show',
    summary: 'show one BuildKit cache',
    description: 'Shows one cache: its layers and records (GET /api/v1/repositories/REPOSITORY/caches/TAG).',
    arguments: ['REPOSITORY', 'TAG'],
    async run(api, [repository, tag]) {
      const answer = await api.call<CacheSummary & { layers: Array<{ digest: string; size: number | null }>; records: unknown[] }>(
        'GET',
        `/repositories/${encName(repository!)}/caches/${enc(tag!)}`,
      );
      const head = table(['FIELD', 'VALUE'], [['repository', answer.repository], ['tag', answer.tag], ['branch', answer.branch], ['format', answer.format], ['records', answer.records.length], ['totalBytes', answer.totalBytes], ['uniqueBytes', answer.uniqueBytes]]);
      return { json: answer, text: `${head}\n\n${table(['LAYER', 'SIZE'], answer.layers.map((l) => [l.digest, l.size]))}` };
    },
  },
];

function print(shown: Shown, json: boolean): void {
  process.stdout.write(json ? `${JSON.stringify(shown.json, null, 2)}\n` : `${shown.text}\n`);
}

const login: Command = {
  name: 'login',
  summary: 'log in to a Cairn server for the admin commands',
  description: `Logs in at the server's token endpoint and stores the server's URL, the account name and a refresh token (never the password) in ${'$XDG_CONFIG_HOME/cairn/credentials.json'} (default ~/.config), readable by you only. The name and password are asked for on a terminal, or given with --username and --password-stdin.`,
  arguments: ['URL'],
  options: [
    { name: 'username', short: 'u', type: 'string', value: 'NAME', help: 'the account name' },
    { name: 'password-stdin', type: 'boolean', help: 'read the password from standard input' },
    JSON_OPTION,
  ],
  whenDirectoryInUse: NOT_LOCAL,
  async run(options) {
    required(options.positionals, ['URL'], 'login');
    const url = serverUrl(options.positionals[0]!);
    const username = (options.values.username as string | undefined) ?? (await prompt('Username: '));
    if (!username) throw new UsageError('cairn login needs a user name');
    const password = options.values['password-stdin'] ? await readStdin() : await promptHidden('Password: ');
    const refreshToken = await passwordLogin(url, username, password);
    const path = credentialsPath();
    await saveLogin({ url, username, refreshToken }, path);
    print({ json: { url, username, credentials: path }, text: `logged in to ${url} as ${username} (credentials in ${path})` }, options.values.json === true);
  },
};

export const REMOTE_COMMANDS: readonly Command[] = [
  login,
  ...SPECS.map(
    (spec): Command => ({
      name: spec.name,
      summary: spec.summary,
      description: `${spec.description} Uses the login stored by cairn login.`,
      ...(spec.arguments ? { arguments: spec.arguments } : {}),
      options: [...(spec.options ?? []), JSON_OPTION],
      whenDirectoryInUse: NOT_LOCAL,
      async run(options) {
        required(options.positionals, spec.arguments ?? [], spec.name);
        const stored = await loadLogin();
        const api = await ApiClient.connect(stored);
        print(await spec.run(api, options.positionals, options.values, stored.username), options.values.json === true);
      },
    }),
  ),
];
