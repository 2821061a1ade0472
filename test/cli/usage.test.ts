/**
 * The CLI speaks to people: help for every command, the version, and for every kind of mistake
 * one line on stderr with exit status 2 that says what is wrong (and what was probably meant).
 */
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertOneLine, assertUserError, cairn, ROOT } from '../support/cli.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const COMMAND_HELP: Array<[string[], string]> = [
  [['serve', '--help'], 'usage: cairn serve [options]'],
  [['serve', '-h'], 'usage: cairn serve [options]'],
  [['migrate', '--help'], 'usage: cairn migrate [options]'],
  [['admin', 'create', '--help'], 'usage: cairn admin create [options]'],
  [['help', 'serve'], 'usage: cairn serve [options]'],
  [['help', 'admin', 'create'], 'usage: cairn admin create [options]'],
  [['admin', '--help'], 'usage: cairn admin <command> [options]'],
  [['help', 'help'], 'usage: cairn <command> [options]'],
  [['retention', 'plan', '--help'], 'usage: cairn retention plan [options]'],
  [['retention', 'apply', '--help'], 'usage: cairn retention apply [options]'],
  [['retention'], 'usage: cairn retention <command> [options]'],
];

test('cairn --help, -h, help and no arguments list every command, on stdout, exit 0', async () => {
  for (const args of [['--help'], ['-h'], ['help'], []]) {
    const result = await cairn(args);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, '');
    for (const command of ['serve', 'migrate', 'admin create', 'help']) assert.match(result.stdout, new RegExp(`^  ${command} `, 'm'));
    assert.match(result.stdout, /--version/);
  }
});

test('help and version load none of the server stack', async () => {
  // CommonJS modules (fastify, pino, pg) land in require.cache even when imported from ESM.
  const probe = join(dir, 'probe.cjs');
  await writeFile(probe, `process.on('exit', () => process.stderr.write(JSON.stringify(Object.keys(require.cache).filter((k) => /node_modules\\/(fastify|pino|pg|undici)\\//.test(k)).length)));`);
  for (const args of [['--help'], ['--version'], ['serve', '--help'], ['admin', 'create', '--help']]) {
    const result = await cairn(args, { nodeArgs: ['--require', probe] });
    assert.equal(result.status, 0);
    assert.equal(result.stderr, '0', `${args.join(' ')} loaded server modules`);
  }
  // The probe does see them once a command runs (so the check above can fail): this one loads
  // the stack, then fails fast on a data directory that is a file.
  const notADirectory = join(dir, 'probe-file');
  await writeFile(notADirectory, '');
  const ran = await cairn(['migrate', '--data-dir', notADirectory], { nodeArgs: ['--require', probe] });
  assert.equal(ran.status, 2);
  assert.match(ran.stderr, /^cairn: cannot use .*\n[1-9]\d*$/);
});

test('cairn --version prints the version from package.json', async () => {
  const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const result = await cairn([flag]);
    assert.equal(result.status, 0);
    assert.equal(result.stdout, `cairn ${version}\n`);
  }
});

test('every command has its own --help with its options and their variables', async () => {
  for (const [args, usage] of COMMAND_HELP) {
    const result = await cairn(args);
    assert.equal(result.status, 0, `${args.join(' ')}: ${result.stderr}`);
    assert.ok(result.stdout.startsWith(`${usage}\n`), `${args.join(' ')}: ${result.stdout}`);
  }
  const serve = (await cairn(['serve', '--help'])).stdout;
  for (const flag of ['--listen HOST:PORT', '--data-dir DIR', '--database-url URL', '--storage KIND', '--log-level LEVEL', '--allow-open', '--config FILE']) {
    assert.ok(serve.includes(flag), flag);
  }
  assert.match(serve, /\[CAIRN_LISTEN\]/);
  assert.match((await cairn(['admin', 'create', '--help'])).stdout, /--name NAME/);
});

test('unknown commands and options: one line naming the closest known one, exit 2', async () => {
  const cases: Array<[string[], string]> = [
    [['serv'], 'unknown command "serv" (did you mean "serve"?); run cairn --help for the list'],
    [['migrat'], 'unknown command "migrat" (did you mean "migrate"?); run cairn --help for the list'],
    [['frobnicate'], 'unknown command "frobnicate"; run cairn --help for the list'],
    [['admin', 'creat'], 'unknown admin command "creat" (did you mean "create"?); run cairn admin --help for the list'],
    [['help', 'serv'], 'unknown command "serv" (did you mean "serve"?); run cairn --help for the list'],
    [['--verison'], 'unknown option --verison (did you mean --version?); usage: cairn <command> [options]'],
    [['serve', '--lisen', '127.0.0.1:0'], 'unknown option --lisen for cairn serve (did you mean --listen?)'],
    [['serve', '--data-dri', dir], 'unknown option --data-dri for cairn serve (did you mean --data-dir?)'],
    [['admin', 'create', '--nmae', 'x'], 'unknown option --nmae for cairn admin create (did you mean --name?)'],
    [['migrate', '-x'], 'unknown option -x for cairn migrate'],
    [['serve', '--listen'], 'option --listen needs a value (--listen HOST:PORT)'],
    [['serve', '--listen', '--data-dir', dir], 'option --listen needs a value (--listen HOST:PORT)'],
    [['serve', '--allow-open=yes'], 'option --allow-open takes no value'],
    [['serve', 'now'], 'unexpected argument "now" for cairn serve'],
    [['retention', 'plna'], 'unknown retention command "plna" (did you mean "plan"?); run cairn retention --help for the list'],
    [['retention', 'apply', '--polcy', 'x'], 'unknown option --polcy for cairn retention apply (did you mean --policy?)'],
    [['retention', 'plan', '--policy'], 'option --policy needs a value (--policy NAME)'],
  ];
  for (const [args, message] of cases) assertUserError(await cairn(args), message);
});

test('bad values from flags and the environment name the flag or variable, exit 2', async () => {
  const s3 = { CAIRN_STORAGE: 's3', CAIRN_S3_BUCKET: 'b', AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's3-secret-value' };
  const cases: Array<[string[], Record<string, string>, string]> = [
    [['--log-level', 'verbose'], {}, '--log-level: "verbose" is not a log level (fatal, error, warn, info, debug, trace)'],
    [[], { CAIRN_LOG_LEVEL: 'verbose' }, 'CAIRN_LOG_LEVEL: "verbose" is not a log level (fatal, error, warn, info, debug, trace)'],
    [['--listen', 'localhost'], {}, '--listen: "localhost" is not HOST:PORT (e.g. 127.0.0.1:5000, 0.0.0.0:5000, [::1]:5000)'],
    [['--listen', 'bad host:5000'], {}, '--listen: "bad host:5000" is not HOST:PORT (e.g. 127.0.0.1:5000, 0.0.0.0:5000, [::1]:5000)'],
    [['--listen', '[::zz]:5000'], {}, '--listen: "[::zz]:5000" is not HOST:PORT (e.g. 127.0.0.1:5000, 0.0.0.0:5000, [::1]:5000)'],
    [[], { CAIRN_LISTEN: '127.0.0.1:70000' }, 'CAIRN_LISTEN: "127.0.0.1:70000" has port 70000, out of range (0-65535)'],
    [['--storage', 'tape'], {}, '--storage: "tape" is not a storage kind (filesystem, s3)'],
    [[], { CAIRN_MAX_MANIFEST_BYTES: 'lots' }, 'CAIRN_MAX_MANIFEST_BYTES: "lots" is not a whole number ≥ 1'],
    [[], { CAIRN_UPLOAD_EXPIRY_HOURS: '-3' }, 'CAIRN_UPLOAD_EXPIRY_HOURS: "-3" is not a positive number'],
    [[], { CAIRN_MAX_FAILED_LOGINS: '2.5' }, 'CAIRN_MAX_FAILED_LOGINS: "2.5" is not a whole number ≥ 1'],
    [[], { CAIRN_ALLOW_OPEN: 'maybe' }, 'CAIRN_ALLOW_OPEN: "maybe" is not true or false'],
    [[], { CAIRN_EXTERNAL_URL: 'registry.example.com' }, 'CAIRN_EXTERNAL_URL: "registry.example.com" is not an http(s) URL (e.g. https://registry.example.com)'],
    [[], { ...s3, CAIRN_S3_ENDPOINT: 'not a url' }, 'CAIRN_S3_ENDPOINT: "not a url" is not an http(s) URL (e.g. http://127.0.0.1:9000)'],
    [[], { ...s3, CAIRN_S3_PART_SIZE: '1024' }, 'CAIRN_S3_PART_SIZE: "1024" is below S3\'s minimum part size (at least 5242880 bytes)'],
  ];
  for (const [args, env, message] of cases) assertUserError(await cairn(['serve', '--data-dir', dir, ...args], { env }), message);
});

test('secrets in bad values are never echoed', async () => {
  const password = await cairn(['serve', '--data-dir', dir], { env: { CAIRN_ADMIN_PASSWORD: 'pw12' } });
  assertUserError(password, 'CAIRN_ADMIN_PASSWORD: too short: passwords need at least 8 characters');
  const url = await cairn(['migrate', '--data-dir', dir], { env: { DATABASE_URL: 'postgres://cairn:hunter2-secret@db host/cairn' } });
  assertUserError(url, 'DATABASE_URL: not a PostgreSQL URL (e.g. postgres://USER:PASSWORD@HOST:5432/DATABASE)');
  assert.doesNotMatch(url.stderr, /hunter2/);
  assertUserError(await cairn(['migrate', '--database-url', 'mysql://db/cairn']), /^cairn: --database-url: not a PostgreSQL URL/);
});

test('config files: unknown keys with the closest known one, wrong types, unreadable files', async () => {
  const file = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };
  const typo = await file('typo.json', '{"listen": "127.0.0.1:0", "maxManifestByte": 10}');
  assertUserError(await cairn(['serve', '--config', typo]), `unknown config key "maxManifestByte" in ${typo} (did you mean "maxManifestBytes"?)`);
  const env = await cairn(['serve'], { env: { CAIRN_CONFIG: typo } });
  assertUserError(env, `unknown config key "maxManifestByte" in ${typo} (did you mean "maxManifestBytes"?)`);
  const unrelated = await file('unrelated.json', '{"colour": "blue"}');
  assertUserError(await cairn(['serve', '--config', unrelated]), `unknown config key "colour" in ${unrelated}`);
  const level = await file('level.json', '{"logLevel": "verbose"}');
  assertUserError(await cairn(['serve', '--config', level]), `logLevel in ${level}: "verbose" is not a log level (fatal, error, warn, info, debug, trace)`);
  const typed = await file('typed.json', '{"listen": 5000}');
  assertUserError(await cairn(['serve', '--config', typed]), `listen in ${typed}: expected a string, got number`);
  const list = await file('list.json', '{"cacheMerge": 7}');
  assertUserError(await cairn(['serve', '--config', list]), `cacheMerge in ${list}: expected a string or an array of strings, got number`);
  const broken = await file('broken.json', '{"listen": ');
  assertUserError(await cairn(['serve', '--config', broken]), new RegExp(`^cairn: config file ${broken} is not valid JSON: `));
  const array = await file('array.json', '[]');
  assertUserError(await cairn(['serve', '--config', array]), `config file ${array} must hold a JSON object`);
  assertUserError(await cairn(['serve', '--config', join(dir, 'missing.json')]), `cannot read config file ${join(dir, 'missing.json')}: no such file`);
});

test('admin create: bad names and passwords are refused before the database is touched', async () => {
  const data = join(dir, 'admin-data');
  assertUserError(await cairn(['admin', 'create', '--data-dir', data], { input: 'short\n' }), 'the password on standard input is too short: passwords need at least 8 characters');
  assertUserError(await cairn(['admin', 'create', '--data-dir', data], { input: '' }), 'no password: set CAIRN_ADMIN_PASSWORD or pipe the password on standard input');
  assertUserError(
    await cairn(['admin', 'create', '--data-dir', data, '--name', 'Bad Name'], { input: 'long-enough-1\n' }),
    '--name: "Bad Name" is not an account name (1-63 of a-z, 0-9, ".", "_", "-", starting with a letter or digit)',
  );
  await assert.rejects(readFile(join(data, 'pglite', 'PG_VERSION')), { code: 'ENOENT' });
});

test('a data directory that is a file, and a listen address in use, are user errors', async () => {
  const file = join(dir, 'a-file');
  await writeFile(file, '');
  assertUserError(await cairn(['migrate', '--data-dir', file]), `cannot use ${file}: a file is in the way of a directory`);

  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as { port: number };
  try {
    const result = await cairn(['serve', '--data-dir', join(dir, 'busy-port'), '--listen', `127.0.0.1:${port}`]);
    assertUserError(result, `cannot listen on 127.0.0.1:${port}: address already in use`);
  } finally {
    blocker.close();
  }
});

test('an unexpected failure is one line with a hint, exit 1; --log-level debug adds the stack', async () => {
  // A PGlite directory from an unknown PostgreSQL version: nothing the CLI can explain.
  const data = join(dir, 'corrupt');
  await mkdir(join(data, 'pglite'), { recursive: true });
  await writeFile(join(data, 'pglite', 'PG_VERSION'), '99\n');
  const plain = await cairn(['migrate', '--data-dir', data]);
  assert.equal(plain.status, 1, plain.stderr);
  assertOneLine(plain.stderr);
  assert.match(plain.stderr, /\(run again with --log-level debug for details\)\n$/);
  const debug = await cairn(['migrate', '--data-dir', data, '--log-level', 'debug']);
  assert.equal(debug.status, 1);
  assert.match(debug.stderr, /^cairn: [^\n]+\n/);
  assert.match(debug.stderr, /\n\s+at /, 'the stack follows');
});

test('retention plan|apply on the embedded database: an unknown policy is one line, exit 2; no policies, no runs', async () => {
  const dataDir = join(dir, 'retention');
  assertUserError(await cairn(['retention', 'plan', '--policy', 'ghost', '--data-dir', dataDir]), 'no retention policy "ghost"');
  assertUserError(await cairn(['retention', 'apply', '--policy', 'ghost', '--data-dir', dataDir]), 'no retention policy "ghost"');
  const applied = await cairn(['retention', 'apply', '--json', '--data-dir', dataDir]);
  assert.equal(applied.status, 0, applied.stderr);
  assert.deepEqual(JSON.parse(applied.stdout), { runs: [] });
  const planned = await cairn(['retention', 'plan', '--json', '--data-dir', dataDir]);
  assert.equal(planned.status, 0, planned.stderr);
  assert.deepEqual(JSON.parse(planned.stdout), { decisions: [], manifests: [], rewrites: [], bytesFreed: 0, blobsFreed: 0 });
});
