/**
 * Shell-word expansion and word splitting as BuildKit's Dockerfile frontend does it (its `shell`
 * lexer), held against BuildKit's own tables (test/fixtures/dockerfile/shell). Not a shell: no
 * command substitution, globbing or arithmetic. What it does:
 *
 * - `$name`, `${name}`; `${name:-w}` `${name-w}` `${name:+w}` `${name+w}` `${name:?msg}` `${name?msg}`;
 *   `${name#p}` `${name##p}` `${name%p}` `${name%%p}` `${name/p/r}` `${name//p/r}` (patterns know
 *   `*` and `?` only). Positional and special parameters (`$1`, `$@`, …) are names that are never set.
 * - Single quotes are literal; in double quotes the escape character escapes only `"`, `$` and itself;
 *   unquoted, it escapes any character and is dropped.
 * - Word splitting happens after expansion, on whitespace that came from outside quotes.
 *
 * Characters are Unicode code points, as Go's runes are.
 */
import { ShellExpansionError } from './errors.js';

/** Where variables come from. `undefined`: not set (different from set to ""). */
export type EnvLookup = (name: string) => string | undefined;

export interface LexOptions {
  /** Keep quote characters in the result (the parser uses this to find heredoc words). */
  readonly rawQuotes?: boolean;
  /** Keep escape characters in the result. */
  readonly rawEscapes?: boolean;
  /** Leave references to unset variables as written instead of expanding them to "". */
  readonly skipUnsetEnv?: boolean;
  /** Treat quotes as ordinary characters (for display text). */
  readonly skipProcessQuotes?: boolean;
}

export interface ExpansionResult {
  /** The word expanded, quotes removed, whitespace kept. */
  readonly result: string;
  /** The same split into words (whitespace outside quotes separates them). */
  readonly words: string[];
  /** Names that were looked up and found set. */
  readonly matched: ReadonlySet<string>;
}

const EOF = undefined;
type Ch = string | undefined;

const WHITE_SPACE = /^\p{White_Space}$/u;
const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

/** Go's unicode.IsSpace. */
export function isSpace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\v' || ch === '\f' || (ch > '\x7f' && WHITE_SPACE.test(ch));
}

class Words {
  word = '';
  words: string[] = [];
  inWord = false;

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.word.length > 0) {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else {
      this.addRawChar(ch);
    }
  }

  addRawChar(ch: string): void {
    this.word += ch;
    this.inWord = true;
  }

  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }

  addRawString(s: string): void {
    this.word += s;
    this.inWord = true;
  }

  finish(): string[] {
    if (this.word.length > 0) {
      this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    }
    return this.words;
  }
}

/** One expansion: a cursor over the word's code points. */
class ShellWord {
  private pos = 0;
  private rawEscapes: boolean;
  readonly matched = new Set<string>();

  constructor(
    private readonly chars: readonly string[],
    private readonly env: EnvLookup,
    private readonly escapeToken: string,
    private readonly options: LexOptions,
  ) {
    this.rawEscapes = options.rawEscapes ?? false;
  }

  private peek(): Ch {
    return this.chars[this.pos];
  }

  private next(): Ch {
    const ch = this.chars[this.pos];
    if (ch !== EOF) this.pos++;
    return ch;
  }

  private getEnv(name: string): string | undefined {
    const value = this.env(name);
    if (value !== undefined) this.matched.add(name);
    return value;
  }

  processStopOn(stopChar: Ch, rawEscapes: boolean): { result: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      return this.scan(stopChar);
    } finally {
      this.rawEscapes = saved;
    }
  }

  private scan(stopChar: Ch): { result: string; words: string[] } {
    let result = '';
    const words = new Words();
    const quotes = !this.options.skipProcessQuotes;
    for (let ch = this.peek(); ch !== EOF; ch = this.peek()) {
      if (stopChar !== EOF && ch === stopChar) {
        this.next();
        return { result, words: words.finish() };
      }
      if (ch === '$') {
        const value = this.processDollar();
        result += value;
        words.addString(value);
      } else if (quotes && (ch === "'" || ch === '"')) {
        const value = ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
        result += value;
        words.addRawString(value);
      } else {
        let c = this.next()!;
        if (c === this.escapeToken) {
          if (this.rawEscapes) {
            words.addRawChar(c);
            result += c;
          }
          const escaped = this.next();
          if (escaped === EOF) break;
          c = escaped;
          words.addRawChar(c);
        } else {
          words.addChar(c);
        }
        result += c;
      }
    }
    if (stopChar !== EOF) throw new ShellExpansionError(`unexpected end of statement while looking for matching ${stopChar}`);
    return { result, words: words.finish() };
  }

  private processSingleQuote(): string {
    let result = '';
    const open = this.next()!;
    if (this.options.rawQuotes) result += open;
    for (;;) {
      const ch = this.next();
      if (ch === EOF) throw new ShellExpansionError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.options.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    let result = '';
    const open = this.next()!;
    if (this.options.rawQuotes) result += open;
    for (;;) {
      const peeked = this.peek();
      if (peeked === EOF) throw new ShellExpansionError('unexpected end of statement while looking for matching double-quote');
      if (peeked === '"') {
        this.next();
        if (this.options.rawQuotes) result += peeked;
        return result;
      }
      if (peeked === '$') {
        result += this.processDollar();
        continue;
      }
      let ch = this.next()!;
      if (ch === this.escapeToken) {
        if (this.rawEscapes) result += ch;
        const following = this.peek();
        if (following === EOF) continue; // an escape at the end of the word is dropped
        if (following === '"' || following === '$' || following === this.escapeToken) ch = this.next()!;
      }
      result += ch;
    }
  }

  private processName(): string {
    let name = '';
    for (let ch = this.peek(); ch !== EOF; ch = this.peek()) {
      if (name === '' && DIGIT.test(ch)) {
        // Positional parameters: all the digits.
        while (this.peek() !== EOF && DIGIT.test(this.peek()!)) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) return this.next()!;
      if (!LETTER.test(ch) && !DIGIT.test(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }

  private processDollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const value = this.getEnv(name);
      if (value === undefined && this.options.skipUnsetEnv) return `$${name}`;
      return value ?? '';
    }
    this.next();
    const first = this.peek();
    if (first === EOF) throw new ShellExpansionError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new ShellExpansionError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.next();
    if (ch === EOF) throw new ShellExpansionError("syntax error: missing '}'");
    let modifier = ch ?? '';
    if (ch === '}') {
      const value = this.getEnv(name);
      if (value === undefined && this.options.skipUnsetEnv) return `\${${name}}`;
      return value ?? '';
    }
    let nullIsUnset = false;
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.next();
      modifier += ch ?? '';
    }
    if (ch === '+' || ch === '-' || ch === '?' || ch === '#' || ch === '%') {
      const patternForm = ch === '#' || ch === '%';
      if (nullIsUnset && patternForm) throw new ShellExpansionError(`unsupported modifier (${modifier}) in substitution`);
      const word = this.wordUntil('}', patternForm, "syntax error: missing '}'");
      const value = this.getEnv(name);
      if (this.options.skipUnsetEnv && value === undefined) return `\${${name}${modifier}${word}}`;
      const unset = value === undefined || (nullIsUnset && value === '');
      switch (ch) {
        case '-':
          return unset ? word : value!;
        case '+':
          return unset ? '' : word;
        case '?':
          if (value === undefined) throw new ShellExpansionError(`${name}: ${word || 'is not allowed to be unset'}`);
          if (unset) throw new ShellExpansionError(`${name}: ${word || 'is not allowed to be empty'}`);
          return value;
        default: {
          // `#`/`%` remove the shortest match, `##`/`%%` the longest.
          const greedy = word.startsWith(ch);
          const pattern = greedy ? word.slice(1) : word;
          return ch === '%' ? trimSuffix(pattern, value ?? '', greedy) : trimPrefix(pattern, value ?? '', greedy);
        }
      }
    }
    if (ch === '/' && !nullIsUnset) {
      const all = this.peek() === '/';
      if (all) this.next();
      const pattern = this.wordUntil('/', true, "syntax error: missing '/' in ${}");
      const replacement = this.wordUntil('}', true, "syntax error: missing '}'");
      const value = this.getEnv(name);
      if (this.options.skipUnsetEnv && value === undefined) return `\${${name}/${pattern}/${replacement}}`;
      const re = shellPatternToRegex(pattern, true, false, all);
      return (value ?? '').replace(re, () => replacement);
    }
    throw new ShellExpansionError(`unsupported modifier (${modifier}) in substitution`);
  }

  /** The word up to `stop`, expanded; running out of input is `missing`. */
  private wordUntil(stop: string, rawEscapes: boolean, missing: string): string {
    try {
      return this.processStopOn(stop, rawEscapes).result;
    } catch (error) {
      if (this.peek() === EOF) throw new ShellExpansionError(missing);
      throw error;
    }
  }
}

const REGEX_SPECIAL = new Set(['[', ']', '{', '}', '.', '+', '(', ')', '|', '^', '$', '/']);

/**
 * A `${x#p}` pattern as a regular expression: `*` any run (shortest unless greedy), `?` one
 * character; like Go's `.`, neither crosses a newline.
 */
function shellPatternToRegex(pattern: string, greedy: boolean, anchored: boolean, global = false): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? '^' : '';
  for (let i = 0; i < chars.length; i++) {
    let ch = chars[i]!;
    if (ch === '*') {
      out += greedy ? '[^\\n]*' : '[^\\n]*?';
      continue;
    }
    if (ch === '?') {
      out += '[^\\n]';
      continue;
    }
    if (ch === '\\') {
      const following = chars[i + 1];
      // `\}` and `\/` only protect the delimiters of ${…}; the escape is not part of the pattern.
      if (following === '}' || following === '/') continue;
      if (following !== '*' && following !== '?' && following !== '\\') {
        throw new ShellExpansionError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${following ?? ''}'`);
      }
      out += '\\';
      ch = following;
      i++;
      out += ch;
      continue;
    }
    out += REGEX_SPECIAL.has(ch) ? `\\${ch}` : ch;
  }
  return new RegExp(out, global ? 'gu' : 'u');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const match = shellPatternToRegex(pattern, greedy, true).exec(value);
  return match ? value.slice(match.index + match[0].length) : value;
}

/** Reverses a pattern without reversing its escapes (`a\*c` → `c\*a`). */
function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const out: string[] = new Array<string>(chars.length);
  const last = chars.length - 1;
  for (let i = 0; i <= last; ) {
    const ch = chars[i]!;
    if (ch === '\\' && i !== last) {
      out[last - i - 1] = ch;
      out[last - i] = chars[i + 1]!;
      i += 2;
    } else {
      out[last - i] = ch;
      i++;
    }
  }
  return out.join('');
}

const reverse = (s: string): string => Array.from(s).reverse().join('');

/** The shortest (or longest) suffix match, found as a prefix match on the reversed strings. */
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}

/** Expands `word` with `env`; throws ShellExpansionError. */
export function processWord(word: string, env: EnvLookup, escapeToken = '\\', options: LexOptions = {}): ExpansionResult {
  const sw = new ShellWord(Array.from(word), env, escapeToken, options);
  const { result, words } = sw.processStopOn(EOF, options.rawEscapes ?? false);
  return { result, words, matched: sw.matched };
}

/** An environment from `KEY=value` strings (a later entry wins). */
export function envLookup(env: readonly string[]): EnvLookup {
  const map = new Map<string, string>();
  for (const entry of env) {
    const eq = entry.indexOf('=');
    if (eq < 0) map.set(entry, '');
    else map.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return (name) => map.get(name);
}
