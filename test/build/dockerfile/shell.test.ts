// Shell-word expansion and word splitting against BuildKit's own tables (test/fixtures/dockerfile/
// shell, BuildKit v0.24.0 data; format in its README). Every A (all platforms) and U (Unix) line of
// envVarTest and every line of wordsTest is a case; W (Windows) lines do not apply to Linux builds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { envLookup, processWord } from '../../../src/build/dockerfile/shell.js';
import { ShellExpansionError } from '../../../src/build/dockerfile/errors.js';

const SHELL = fileURLToPath(new URL('../../../../test/fixtures/dockerfile/shell/', import.meta.url));
const lines = (file: string) => readFileSync(`${SHELL}${file}`, 'utf8').split('\n');

function expand(input: string, env: readonly string[], split: boolean): string | string[] {
  try {
    const result = processWord(input, envLookup(env));
    return split ? result.words : result.result;
  } catch (error) {
    if (error instanceof ShellExpansionError) return 'error';
    throw error;
  }
}

test('envVarTest: every A and U line expands as BuildKit expands it', () => {
  const env = ['PWD=/home', 'SHELL=bash', 'KOREAN=한국어', 'NULL='];
  let checked = 0;
  const failures: string[] = [];
  for (const line of lines('envVarTest')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = line.split('|');
    assert.equal(fields.length, 3, line);
    const [platform, input, expected] = fields.map((f) => f.trim()) as [string, string, string];
    if (platform === 'W') continue;
    checked++;
    const actual = expand(input, env, false);
    if (actual !== expected) failures.push(`${input} → ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
  }
  assert.deepEqual(failures, []);
  assert.equal(checked, 228);
});

test('wordsTest: every line splits into the words BuildKit gives', () => {
  const env: string[] = [];
  let checked = 0;
  const failures: string[] = [];
  for (const line of lines('wordsTest')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    if (line.startsWith('ENV ')) {
      env.push(line.slice(3).replace(/^ +/, ''));
      continue;
    }
    const fields = line.split('|');
    assert.equal(fields.length, 2, line);
    const input = fields[0]!.trim();
    const expected = fields[1]!.replace(/^ +/, '').split(',');
    checked++;
    const actual = expand(input, env, true);
    const words = actual === 'error' ? ['error'] : actual;
    if (JSON.stringify(words) !== JSON.stringify(expected)) failures.push(`${input} → ${JSON.stringify(words)}, expected ${JSON.stringify(expected)}`);
  }
  assert.deepEqual(failures, []);
  assert.equal(checked, 24);
});

test('pattern forms: # ## % %% / // as BuildKit v0.24 supports them', () => {
  const env = envLookup(['P=/usr/local/bin/tool.tar.gz', 'E=', 'V=aXbXc']);
  const x = (word: string) => processWord(word, env).result;
  assert.equal(x('${P#*/}'), 'usr/local/bin/tool.tar.gz');
  assert.equal(x('${P##*/}'), 'tool.tar.gz');
  assert.equal(x('${P%.*}'), '/usr/local/bin/tool.tar');
  assert.equal(x('${P%%.*}'), '/usr/local/bin/tool');
  assert.equal(x('${P#nomatch}'), '/usr/local/bin/tool.tar.gz');
  assert.equal(x('${V/X/-}'), 'a-bXc');
  assert.equal(x('${V//X/-}'), 'a-b-c');
  assert.equal(x('${V//?/.}'), '.....');
  assert.equal(x('${V/b*/}'), 'aX');
  assert.equal(x('${UNSET#x}'), '');
  assert.equal(x('${V%\\*}'), 'aXbXc');
  assert.equal(x('${P-x}${E-unset}${E:-empty}'), '/usr/local/bin/tool.tar.gzempty');
  assert.equal(x('${E+set}${E:+nonempty}${UNSET+set}'), 'set');
  for (const bad of ['${P:#x}', '${P:%x}', '${P/x}', '${P=x}', '${P#\\q}', '${E:?must be set}', '${UNSET?}']) {
    assert.throws(() => x(bad), ShellExpansionError, bad);
  }
  assert.throws(() => x('${E:?must be set}'), /E: must be set/);
  assert.throws(() => x('${UNSET?}'), /UNSET: is not allowed to be unset/);
});

test('matched names are reported (cache keys use them), unset ones are not', () => {
  const result = processWord('$A ${B:-x} ${C}', envLookup(['A=1', 'B=2']));
  assert.deepEqual([...result.matched].sort(), ['A', 'B']);
});

test('the escape directive changes the escape character', () => {
  assert.equal(processWord('a`$b', envLookup(['b=1']), '`').result, 'a$b');
  assert.equal(processWord('a\\$b', envLookup(['b=1']), '`').result, 'a\\1');
});
