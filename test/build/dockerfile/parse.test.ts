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

test('locations, CRLF and a byte-order mark: lines are counted as written', () => {
  const ast = parse('\uFEFF# syntax=docker/dockerfile:1\r\nFROM scratch\r\n\r\nRUN a \\\r\n  # comment\r\n\r\n  b\r\nCOPY <<EOF /x\r\nbody\r\nEOF\r\n');
  assert.equal(ast.directives.syntax, 'docker/dockerfile:1');
  assert.deepEqual(ast.instructions.map((i) => [i.keyword, i.location.line, i.location.endLine]), [['from', 2, 2], ['run', 4, 7], ['copy', 8, 10]]);
  assert.deepEqual(ast.instructions[1]!.args, ['a   b']);
  assert.deepEqual(ast.instructions[2]!.heredocs, [{ name: 'EOF', chomp: false, quoted: false, content: 'body\r\n' }]);
});

test('syntax errors name the line of the instruction', () => {
  const cases: Array<[string, number, RegExp]> = [
    ['FROM scratch\n\nFOO bar\n', 3, /unknown instruction: FOO/],
    ['FROM scratch\nCMD ["a", 1]\n', 2, /arrays must be comprised of strings only/],
    ['FROM scratch\nENV A\n', 2, /ENV must have two arguments/],
    ['FROM scratch\nLABEL a=b c\n', 2, /can't find = in "c"/],
    ['FROM scratch\nRUN <<EOF\nno end\n', 2, /unterminated heredoc/],
    ['# escape=x\nFROM scratch\n', 1, /invalid escape token/],
    ['\n\n', 2, /file with no instructions/],
  ];
  for (const [text, line, message] of cases) {
    assert.throws(() => parse(text), (error: unknown) => {
      assert.ok(error instanceof DockerfileSyntaxError, String(error));
      assert.equal(error.line, line, text);
      assert.match(error.message, message);
      return true;
    });
  }
});

test('JSON that is not an array of strings stays shell form; trailing text too', () => {
  const ast = parse('FROM scratch\nCMD ["a"] # not a comment\nENTRYPOINT {"a": 1}\nRUN [ "a" , "b" ]\n');
  assert.deepEqual(ast.instructions.slice(1).map((i) => [i.json, i.args]), [
    [false, ['["a"] # not a comment']],
    [false, ['{"a": 1}']],
    [true, ['a', 'b']],
  ]);
});
