// The parser against BuildKit's own expected dumps and refusals (test/fixtures/dockerfile, BuildKit
// v0.24.0 data; see its README). Tests run from dist/test/build/dockerfile, hence the path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dump, parse, DockerfileSyntaxError } from '../../../src/build/dockerfile/index.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/dockerfile/', import.meta.url));
const cases = (dir: string) => readdirSync(`${FIXTURES}${dir}`).sort();

const positive = cases('testfiles');
const negative = cases('testfiles-negative');

test('the fixtures are all there (33 dumps, 4 refusals)', () => {
  assert.equal(positive.length, 33);
  assert.equal(negative.length, 4);
});

for (const name of positive) {
  test(`testfiles/${name}: the dump equals BuildKit's`, () => {
    const text = readFileSync(`${FIXTURES}testfiles/${name}/Dockerfile`, 'utf8');
    const expected = readFileSync(`${FIXTURES}testfiles/${name}/result`, 'utf8');
    assert.equal(dump(parse(text)), expected);
  });
}

for (const name of negative) {
  test(`testfiles-negative/${name}: refused with a line`, () => {
    const text = readFileSync(`${FIXTURES}testfiles-negative/${name}/Dockerfile`, 'utf8');
    assert.throws(() => parse(text), (error: unknown) => {
      assert.ok(error instanceof DockerfileSyntaxError, String(error));
      assert.ok(error.line >= 1);
      return true;
    });
  });
}
