/**
 * The AST in BuildKit's dump format, one instruction per line: `(keyword ["--flag"] "arg" …)`, with
 * Go's string quoting. BuildKit's parser tests expect exactly this (test/fixtures/dockerfile), so it
 * is how the parser is held to BuildKit's; also handy when debugging a Dockerfile.
 */
import type { Ast, AstInstruction } from './model.js';

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const SHORT_ESCAPES: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' };

/** Go's strconv.Quote. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (PRINTABLE.test(ch)) out += ch;
    else if (SHORT_ESCAPES[ch]) out += SHORT_ESCAPES[ch];
    else {
      const cp = ch.codePointAt(0)!;
      if (cp < 0x80) out += `\\x${cp.toString(16).padStart(2, '0')}`;
      else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
      else out += `\\U${cp.toString(16).padStart(8, '0')}`;
    }
  }
  return `${out}"`;
}

function dumpInstruction(instruction: AstInstruction): string {
  let out = instruction.keyword;
  if (instruction.flags.length > 0) out += ` [${instruction.flags.map(goQuote).join(' ')}]`;
  if (instruction.next) out += ` (${dumpInstruction(instruction.next)})`;
  for (const arg of instruction.args) out += ` ${goQuote(arg)}`;
  return out;
}

export function dump(ast: Ast): string {
  return ast.instructions.map((i) => `(${dumpInstruction(i)})\n`).join('');
}
