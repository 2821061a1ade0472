/**
 * The installable package: `npm pack` yields a tarball whose `cairn` bin runs from compiled
 * JavaScript with production dependencies only. The tarball is installed into an empty directory
 * the way a user would (`npm install --omit=dev`), started there on the embedded default, and
 * asked `GET /v2/`.
 *
 * The pack runs with --ignore-scripts: `npm test` has just built dist/, and prepack's clean
 * rebuild would delete and rewrite files that suites running beside this one are loading. What
 * prepack builds is what this checks (the same `npm run build`); that prepack runs it is the
 * package.json test below.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from '../support/cli.js';
import { startCairn } from '../support/registry.js';

const run = promisify(execFile);

interface PackedFile {
  path: string;
}
interface PackResult {
  filename: string;
  files: PackedFile[];
}

interface Manifest {
  version: string;
  files: string[];
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

let dir: string;
let tarball: string;
let packed: string[];
let manifest: Manifest;

/**
 * npm's environment without what `npm test` exported for its own run (npm_config_*, the
 * package's npm_package_*): a nested npm would otherwise inherit the checkout's prefix and settings.
 */
function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-pack-'));
  manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as Manifest;
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
    cwd: ROOT,
    env: npmEnv(),
    maxBuffer: 16 * 1024 * 1024,
  });
  const [result] = JSON.parse(stdout) as PackResult[];
  assert.ok(result);
  tarball = join(dir, result.filename);
  packed = result.files.map((f) => f.path);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('prepack builds from a clean dist/, so the tarball holds no output of deleted sources', () => {
  const prepack = manifest.scripts.prepack ?? '';
  assert.match(prepack, /rmSync\('dist'/);
  assert.match(prepack, /npm run build$/);
});

test('the tarball holds the compiled CLI, the migrations and no TypeScript, tests or benchmarks', () => {
  assert.ok(packed.includes('package.json'));
  assert.ok(packed.includes('bin/cairn.js'));
  assert.ok(packed.includes('dist/src/cli/main.js'));
  const migrations = packed.filter((p) => p.startsWith('migrations/'));
  assert.ok(migrations.length > 0 && migrations.every((p) => p.endsWith('.sql')), migrations.join(' '));
  const unwanted = packed.filter(
    (p) => p.endsWith('.ts') || p.endsWith('.map') || /^(src|test|bench|scripts|dist\/test|dist\/bench|charts)\//.test(p),
  );
  assert.deepEqual(unwanted, []);
  // Everything else is the compiled server.
  const other = packed.filter((p) => !/^(dist\/src\/.*\.js|migrations\/.*\.sql|bin\/cairn\.js|package\.json|README\.md)$/.test(p));
  assert.deepEqual(other, []);
});

test('installed with --omit=dev into an empty directory, `cairn` runs and serves /v2/', async () => {
  const app = join(dir, 'app');
  await mkdir(app);
  await writeFile(join(app, 'package.json'), '{"private": true}\n');
  // --prefer-offline: the tarballs come from npm's cache (npm ci filled it), the version lists
  // from the registry when the cache lacks them (npm ci does not fetch them).
  await run('npm', ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', tarball], {
    cwd: app,
    env: npmEnv(),
    maxBuffer: 16 * 1024 * 1024,
  });
  const installed = (name: string) => exists(join(app, 'node_modules', name));
  for (const dependency of Object.keys(manifest.dependencies)) {
    assert.ok(await installed(dependency), `production dependency ${dependency} installed`);
  }
  for (const dependency of Object.keys(manifest.devDependencies)) {
    assert.ok(!(await installed(dependency)), `dev dependency ${dependency} not installed`);
  }
  // The package has no TypeScript to build: its bin is there as shipped.
  await stat(join(app, 'node_modules', 'cairn', 'dist', 'src', 'cli', 'main.js'));

  const bin = join(app, 'node_modules', '.bin', 'cairn');
  const version = await run(process.execPath, [bin, '--version'], { cwd: app });
  assert.equal(version.stdout, `cairn ${manifest.version}\n`);

  const server = await startCairn({ bin, cwd: app, env: { CAIRN_STORAGE: 'filesystem' } });
  try {
    const response = await fetch(`${server.url}/v2/`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('docker-distribution-api-version'), 'registry/2.0');
    // The migrations shipped in the package were applied: the catalog answers from the database.
    const catalog = await fetch(`${server.url}/v2/_catalog`);
    assert.equal(catalog.status, 200);
    assert.deepEqual(await catalog.json(), { repositories: [] });
  } finally {
    await server.stop();
  }
});
