/**
 * The Dockerfile cannot be built here (base images cannot be pulled), so this reads it the way a
 * build would use it: every file it copies from the context exists and is not excluded by
 * .dockerignore, the runtime stage is non-root with production dependencies only, and the
 * settings it sets are ones Cairn reads.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { SETTINGS } from '../../src/config/settings.js';
import { ROOT } from '../support/cli.js';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  /** The index of the stage (FROM) it belongs to. */
  readonly stage: number;
}

/** Instructions with line continuations joined and comments dropped (parser directives included). */
function instructions(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  let stage = -1;
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      if (keyword.toUpperCase() === 'FROM') stage++;
      return { keyword: keyword.toUpperCase(), args: rest.join(' '), stage };
    });
}

/** .dockerignore's rules: a path is included when the last rule that matches it is a `!` one. */
function dockerIgnored(rules: string[], path: string): boolean {
  let ignored = false;
  for (const rule of rules) {
    const negated = rule.startsWith('!');
    const pattern = (negated ? rule.slice(1) : rule).replace(/\/$/, '');
    const regex = new RegExp(
      `^${pattern
        .split('**/')
        .map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))
        .join('(?:.*/)?')}(?:/.*)?$`,
    );
    if (regex.test(path)) ignored = !negated;
  }
  return ignored;
}

let steps: Instruction[];
let ignoreRules: string[];
before(async () => {
  steps = instructions(await readFile(join(ROOT, 'Dockerfile'), 'utf8'));
  ignoreRules = (await readFile(join(ROOT, '.dockerignore'), 'utf8'))
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
});

test('.dockerignore keeps the build context to what the image needs', () => {
  for (const path of ['package.json', 'package-lock.json', 'tsconfig.json', 'bin/cairn.js', 'src/cli/main.ts', 'migrations/0001_registry.sql']) {
    assert.ok(!dockerIgnored(ignoreRules, path), `${path} is in the context`);
  }
  for (const path of ['node_modules/pg/package.json', 'dist/src/cli/main.js', 'data/pglite', '.git/HEAD', 'test/http/blobs.test.ts', 'bench/run.mjs', '.env', 'charts/cairn/values.yaml']) {
    assert.ok(dockerIgnored(ignoreRules, path), `${path} stays out of the context`);
  }
});

test('every COPY from the build context names a file that exists and is not ignored', async () => {
  const copies = steps.filter((s) => s.keyword === 'COPY' && !s.args.startsWith('--from='));
  assert.ok(copies.length >= 4);
  for (const copy of copies) {
    const sources = copy.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1);
    for (const source of sources) {
      const path = source.replace(/^\.\//, '').replace(/\/$/, '');
      await stat(join(ROOT, path));
      assert.ok(!dockerIgnored(ignoreRules, path), `COPY ${source}: excluded by .dockerignore`);
    }
  }
});

test('two stages: the build has the dev dependencies, the runtime only production ones', () => {
  const froms = steps.filter((s) => s.keyword === 'FROM');
  assert.equal(froms.length, 2);
  assert.match(froms[0]!.args, / AS build$/);
  assert.match(froms[1]!.args, / AS runtime$/);
  const runs = (stage: number) => steps.filter((s) => s.stage === stage && s.keyword === 'RUN').map((s) => s.args);
  assert.ok(runs(0).some((r) => /npm ci\b(?!.*--omit=dev)/.test(r)), 'the build stage installs dev dependencies');
  assert.ok(runs(0).some((r) => r.includes('npm run build')));
  const installs = runs(1).filter((r) => r.includes('npm ci'));
  assert.equal(installs.length, 1);
  assert.match(installs[0]!, /--omit=dev/);
  // The runtime takes the compiled output of the build stage, not the TypeScript sources.
  const runtimeCopies = steps.filter((s) => s.stage === 1 && s.keyword === 'COPY').map((s) => s.args);
  assert.ok(runtimeCopies.some((c) => c.startsWith('--from=build ') && c.includes('/dist/src')));
  assert.ok(!runtimeCopies.some((c) => /(^|\s)(\.\/)?src\b/.test(c.replace(/--from=build \S+/, ''))), 'no sources in the runtime');
});

test('the runtime runs as a non-root user, with a health check, a volume, a port and an init', () => {
  const runtime = steps.filter((s) => s.stage === 1);
  const last = (keyword: string) => runtime.filter((s) => s.keyword === keyword).at(-1)?.args;
  const user = last('USER');
  assert.ok(user && !/^(root|0)(:|$)/.test(user), `USER ${user}`);
  assert.match(last('HEALTHCHECK') ?? '', /CMD \["node", .*\/healthz/);
  assert.match(last('VOLUME') ?? '', /\/var\/lib\/cairn/);
  assert.match(last('EXPOSE') ?? '', /^5000$/);
  assert.match(last('ENTRYPOINT') ?? '', /^\["\/usr\/bin\/tini", "--", "node", "\/opt\/cairn\/bin\/cairn.js"\]$/);
});

test('the settings the image sets are ones Cairn reads, and its volume is the data directory', () => {
  const known: ReadonlySet<string> = new Set(Object.values(SETTINGS).flatMap((s) => [...s.env]));
  const env = steps
    .filter((s) => s.stage === 1 && s.keyword === 'ENV')
    .flatMap((s) => [...s.args.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)].map((m) => [m[1]!, m[2]!] as const));
  const cairnEnv = env.filter(([name]) => name.startsWith('CAIRN_'));
  assert.ok(cairnEnv.length >= 2);
  for (const [name] of cairnEnv) assert.ok(known.has(name), `${name} is a setting`);
  const dataDir = Object.fromEntries(env).CAIRN_DATA_DIR;
  assert.equal(dataDir, '/var/lib/cairn');
});

test('no production dependency needs an install script (the runtime installs with --ignore-scripts)', async () => {
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; hasInstallScript?: boolean }>;
  };
  const production = Object.entries(lock.packages).filter(([path, entry]) => path.startsWith('node_modules/') && !entry.dev);
  assert.ok(production.length > 10);
  assert.deepEqual(production.filter(([, entry]) => entry.hasInstallScript).map(([path]) => path), []);
});
