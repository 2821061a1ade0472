/**
 * How each instruction's text is cut into arguments, before any expansion (BuildKit's line
 * parsers): JSON (exec) form or shell form, whitespace lists, quote-aware `name=value` words, and
 * the `--flag` words in front. Quotes and escapes are kept here; they are removed per instruction
 * when words are expanded (shell.ts).
 */
import { isSpace } from './shell.js';

/** One instruction's arguments as parsed: the values BuildKit's AST holds, and its `json` attribute. */
export interface ParsedArgs {
  readonly args: string[];
  readonly json: boolean;
}

export class LineSyntaxError extends Error {}

/** Separators of FROM, EXPOSE, COPY's shell form…: Go's `[\t\v\f\r ]+`, not all Unicode space. */
const WHITESPACE = /[\t\v\f\r ]+/;

export function trimSpace(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isSpace(s[start]!)) start++;
  while (end > start && isSpace(s[end - 1]!)) end--;
  return s.slice(start, end);
}

export function trimLeftSpace(s: string): string {
  let start = 0;
  while (start < s.length && isSpace(s[start]!)) start++;
  return s.slice(start);
}

/**
 * Splits a logical line into its keyword (lower-cased), its `--flag` words (quotes and `\` removed,
 * `--` ends them) and the rest of the line.
 */
export function splitCommand(line: string): { keyword: string; flags: string[]; rest: string } {
  const trimmed = trimSpace(line);
  const match = WHITESPACE.exec(trimmed);
  if (!match) return { keyword: trimmed.toLowerCase(), flags: [], rest: '' };
  const keyword = trimmed.slice(0, match.index).toLowerCase();
  const { rest, flags } = extractFlags(trimmed.slice(match.index + match[0].length));
  return { keyword, flags, rest: trimSpace(rest) };
}

function extractFlags(line: string): { rest: string; flags: string[] } {
  const flags: string[] = [];
  let word = '';
  let blankOk = false;
  let quote = '';
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  for (let pos = 0; pos <= line.length; pos++) {
    const ch = line[pos] ?? '';
    if (phase === 'spaces') {
      if (pos === line.length) break;
      if (isSpace(ch)) continue;
      // Flags are the words in front that start with `--`.
      if (ch !== '-' || line[pos + 1] !== '-') return { rest: line.slice(pos), flags };
      phase = 'word';
    }
    if (pos === line.length) {
      if (word !== '--' && (blankOk || word.length > 0)) flags.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (word === '--') return { rest: line.slice(pos), flags };
        if (blankOk || word.length > 0) flags.push(word);
        word = '';
        blankOk = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = 'quote';
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === line.length) continue;
        pos++;
        word += line[pos];
        continue;
      }
      word += ch;
      continue;
    }
    // In quotes.
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === '\\') {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      pos++;
      word += line[pos];
      continue;
    }
    word += ch;
  }
  return { rest: '', flags };
}

/**
 * Words separated by whitespace outside quotes; quotes and escapes are kept (`a="b c"` is one word,
 * quotes included). The escape character before any character keeps both.
 */
export function parseWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  const chars = Array.from(rest);
  let word = '';
  let blankOk = false;
  let quote = '';
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  for (let pos = 0; pos <= chars.length; pos++) {
    let ch = chars[pos] ?? '';
    if (phase === 'spaces') {
      if (pos === chars.length) break;
      if (isSpace(ch)) continue;
      phase = 'word';
    }
    if (pos === chars.length) {
      if (blankOk || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (blankOk || word.length > 0) words.push(word);
        word = '';
        blankOk = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = 'quote';
      }
      if (ch === escape) {
        if (pos + 1 === chars.length) continue; // an escape at the very end is dropped
        word += ch;
        pos++;
        ch = chars[pos]!;
      }
      word += ch;
      continue;
    }
    if (ch === quote) phase = 'word';
    // Single quotes escape nothing.
    if (ch === escape && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      pos++;
      word += ch;
      ch = chars[pos]!;
    }
    word += ch;
  }
  return words;
}

/** ENV and LABEL: `key=value …` words, or the legacy `key value` form; triples key, value, separator. */
function parseNameVal(rest: string, keyword: string, escape: string): ParsedArgs {
  const words = parseWords(rest, escape);
  if (words.length === 0) return { args: [], json: false };
  if (!words[0]!.includes('=')) {
    const match = WHITESPACE.exec(rest);
    if (!match) throw new LineSyntaxError(`${keyword} must have two arguments`);
    return { args: [rest.slice(0, match.index), rest.slice(match.index + match[0].length), ''], json: false };
  }
  const args: string[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) throw new LineSyntaxError(`Syntax error - can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`);
    args.push(word.slice(0, eq), word.slice(eq + 1), '=');
  }
  return { args, json: false };
}

function whitespaceList(rest: string): ParsedArgs {
  return { args: rest === '' ? [] : rest.split(WHITESPACE), json: false };
}

class NotStringArray extends LineSyntaxError {
  constructor() {
    super('when using JSON array syntax, arrays must be comprised of strings only');
  }
}

/** A JSON array of strings, or undefined when `rest` is not a JSON array (shell form then). */
function parseJson(rest: string): string[] | undefined {
  const text = trimLeftSpace(rest);
  if (!text.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  if (!value.every((v): v is string => typeof v === 'string')) throw new NotStringArray();
  return value;
}

function maybeJson(rest: string): ParsedArgs {
  if (rest === '') return { args: [], json: false };
  const json = parseJson(rest);
  return json ? { args: json, json: true } : { args: [rest], json: false };
}

function maybeJsonList(rest: string): ParsedArgs {
  const json = parseJson(rest);
  return json ? { args: json, json: true } : whitespaceList(rest);
}

/** HEALTHCHECK: the type word (`CMD`, `NONE`), then the command as CMD would take it. */
function healthConfig(rest: string): ParsedArgs {
  let sep = 0;
  while (sep < rest.length && !isSpace(rest[sep]!)) sep++;
  if (sep === 0) return { args: [], json: false };
  let next = sep;
  while (next < rest.length && isSpace(rest[next]!)) next++;
  const command = maybeJson(rest.slice(next));
  return { args: [rest.slice(0, sep), ...command.args], json: command.json };
}

type LineParser = (rest: string, escape: string) => ParsedArgs;

/** Every instruction the parser knows, with how its arguments are read. ONBUILD is handled apart. */
export const LINE_PARSERS: ReadonlyMap<string, LineParser> = new Map<string, LineParser>([
  ['add', maybeJsonList],
  ['arg', (rest, escape) => ({ args: parseWords(rest, escape), json: false })],
  ['cmd', maybeJson],
  ['copy', maybeJsonList],
  ['entrypoint', maybeJson],
  ['env', (rest, escape) => parseNameVal(rest, 'ENV', escape)],
  ['expose', whitespaceList],
  ['from', whitespaceList],
  ['healthcheck', healthConfig],
  ['label', (rest, escape) => parseNameVal(rest, 'LABEL', escape)],
  ['maintainer', (rest) => ({ args: rest === '' ? [] : [rest], json: false })],
  ['run', maybeJson],
  ['shell', maybeJson],
  ['stopsignal', (rest) => ({ args: rest === '' ? [] : [rest], json: false })],
  ['user', (rest) => ({ args: rest === '' ? [] : [rest], json: false })],
  ['volume', maybeJsonList],
  ['workdir', (rest) => ({ args: rest === '' ? [] : [rest], json: false })],
]);

export const INSTRUCTIONS: readonly string[] = [...LINE_PARSERS.keys(), 'onbuild'];
