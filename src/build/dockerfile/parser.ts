/**
 * The Dockerfile parser, written from the Dockerfile reference and held against BuildKit's parser
 * dumps (test/fixtures/dockerfile/testfiles). It reads physical lines into instructions:
 *
 * - parser directives (`# syntax=`, `# escape=`, `# check=`) only before anything else, each once;
 * - comments: lines whose first non-blank character is `#`, also inside continuations;
 * - continuation: the escape character at the end of a line (unless itself escaped), trailing blanks
 *   allowed; blank lines inside a continuation are skipped; continuation lines keep their indent;
 * - heredocs (`<<EOF`, `<<-EOF`, quoted names, several per instruction) for RUN, COPY and ADD;
 * - each instruction's arguments by its own rule (line-parsers.ts).
 *
 * Nothing is expanded here. One pass over the lines: linear in the file's size.
 */
import { didYouMean } from '../../config/suggest.js';
import { DockerfileSyntaxError, ShellExpansionError } from './errors.js';
import { INSTRUCTIONS, LINE_PARSERS, LineSyntaxError, splitCommand, trimLeftSpace } from './line-parsers.js';
import type { Ast, AstInstruction, Heredoc } from './model.js';
import { processWord } from './shell.js';

const DIRECTIVE = /^#[ \t\n\f\r]*([a-zA-Z][a-zA-Z0-9]*)[ \t\n\f\r]*=[ \t\n\f\r]*(.+?)[ \t\n\f\r]*$/;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
const HEREDOC_WORD = /^(\d*)<<(-?)([^<]*)$/;
const HEREDOC_KEYWORDS = new Set(['run', 'copy', 'add']);
/** BuildKit's scanner refuses longer physical lines. */
const MAX_LINE = 65535;

interface Directives {
  syntax?: string;
  escape: '\\' | '`';
  check?: string;
}

/** The physical lines, each with its line ending (heredoc bodies keep them). */
function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl + 1;
    lines.push(text.slice(start, end));
    start = end;
  }
  return lines;
}

const trimNewline = (line: string): string => line.replace(/[\r\n]+$/, '');
const isComment = (line: string): boolean => trimLeftSpace(line).startsWith('#');

/** The escape character at the end of a line, not preceded by another: `([^e])e[ \t]*$|^e[ \t]*$`. */
function continuationPattern(escape: string): RegExp {
  const e = escape === '\\' ? '\\\\' : escape;
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

class DirectiveReader {
  done = false;
  private readonly seen = new Set<string>();
  readonly values: Directives = { escape: '\\' };

  /** Looks at a line while directives may still appear; returns whether it was one. */
  read(line: string, lineNo: number): boolean {
    if (this.done) return false;
    const match = DIRECTIVE.exec(line);
    const key = match?.[1]!.toLowerCase();
    if (!match || !key || !KNOWN_DIRECTIVES.has(key)) {
      this.done = true;
      return false;
    }
    if (this.seen.has(key)) throw new DockerfileSyntaxError(`only one ${key} parser directive can be used`, lineNo);
    this.seen.add(key);
    const value = match[2]!;
    if (key === 'escape') {
      if (value !== '\\' && value !== '`') throw new DockerfileSyntaxError(`invalid escape token '${value}' does not match \` or \\`, lineNo);
      this.values.escape = value;
    } else if (key === 'syntax') {
      this.values.syntax = value;
    } else {
      this.values.check = value;
    }
    return true;
  }
}

/** Parses a Dockerfile. Throws DockerfileSyntaxError naming the line. */
export function parse(text: string): Ast {
  const lines = splitLines(text.startsWith('\uFEFF') ? text.slice(1) : text);
  const directives = new DirectiveReader();
  let continuation = continuationPattern('\\');
  const instructions: AstInstruction[] = [];
  let index = 0; // next physical line (0-based); its number is index + 1

  const readLine = (stripLeft: boolean): { raw: string; text: string; lineNo: number } => {
    const raw = lines[index]!;
    const lineNo = ++index;
    if (raw.length > MAX_LINE) throw new DockerfileSyntaxError(`dockerfile line greater than max allowed size of ${MAX_LINE}`, lineNo);
    let token = trimNewline(raw);
    if (stripLeft) token = trimLeftSpace(token);
    const wasEscape = directives.values.escape;
    directives.read(token, lineNo);
    if (directives.values.escape !== wasEscape) continuation = continuationPattern(directives.values.escape);
    return { raw, text: isComment(token) ? '' : token, lineNo };
  };

  const trimContinuation = (line: string): { line: string; end: boolean } => {
    const match = continuation.exec(line);
    if (!match) return { line, end: true };
    return { line: line.slice(0, match.index) + (match[1] ?? ''), end: false };
  };

  while (index < lines.length) {
    const first = readLine(true);
    const startLine = first.lineNo;
    let { line, end } = trimContinuation(first.text);
    if (end && line === '') continue;
    while (!end && index < lines.length) {
      const next = readLine(false);
      if (isComment(next.raw)) continue;
      if (trimLeftSpace(next.text) === '') continue; // blank lines inside a continuation are skipped
      const trimmed = trimContinuation(next.text);
      line += trimmed.line;
      end = trimmed.end;
    }
    const instruction = parseInstruction(line, directives.values.escape, startLine, index);
    let heredocs: Heredoc[] = [];
    if (canContainHeredoc(instruction) && line.includes('<<')) {
      heredocs = heredocsFromLine(line, startLine, index).map((doc) => {
        let content = '';
        for (;;) {
          if (index >= lines.length) throw new DockerfileSyntaxError('unterminated heredoc', startLine, index);
          const raw = lines[index++]!;
          let candidate = trimNewline(raw);
          if (doc.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === doc.name) return { ...doc, content };
          content += raw;
        }
      });
    }
    instructions.push({ ...instruction, heredocs, location: { line: startLine, endLine: index } });
  }
  if (instructions.length === 0) throw new DockerfileSyntaxError('file with no instructions', Math.max(1, index));
  return { directives: { ...directives.values }, instructions };
}

type ParsedInstruction = Omit<AstInstruction, 'heredocs' | 'location'>;

function parseInstruction(line: string, escape: string, startLine: number, endLine: number): ParsedInstruction {
  const { keyword, flags, rest } = splitCommand(line);
  try {
    if (keyword === 'onbuild') {
      const next = rest === '' ? undefined : parseInstruction(rest, escape, startLine, endLine);
      return { keyword, flags, args: [], json: false, original: line, ...(next ? { next: { ...next, heredocs: [], location: { line: startLine, endLine } } } : {}) };
    }
    const parser = LINE_PARSERS.get(keyword);
    if (!parser) {
      throw new LineSyntaxError(`unknown instruction: ${keyword.toUpperCase()}${didYouMean(keyword, INSTRUCTIONS, (s) => s.toUpperCase())}`);
    }
    const { args, json } = parser(rest, escape);
    return { keyword, flags, args, json, original: line };
  } catch (error) {
    if (error instanceof LineSyntaxError) throw new DockerfileSyntaxError(error.message, startLine, endLine);
    throw error;
  }
}

function canContainHeredoc(instruction: ParsedInstruction): boolean {
  const target = instruction.keyword === 'onbuild' && instruction.next ? instruction.next : instruction;
  return HEREDOC_KEYWORDS.has(target.keyword) && !target.json;
}

/**
 * The heredocs a line opens, in order: words `<<NAME`, `<<-NAME`, `<<"NAME"`, … (a name with any
 * quoted part is not expanded). Words are found with `\` as the escape whatever the directive says.
 */
function heredocsFromLine(line: string, startLine: number, endLine: number): Array<Omit<Heredoc, 'content'>> {
  const none = () => undefined;
  let words: string[];
  try {
    words = processWord(line, none, '\\', { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true }).words;
  } catch {
    return [];
  }
  const docs: Array<Omit<Heredoc, 'content'>> = [];
  for (const word of words) {
    const doc = heredocWord(word);
    if (doc === 'error') throw new DockerfileSyntaxError(`invalid heredoc name: ${word}`, startLine, endLine);
    if (doc) docs.push(doc);
  }
  return docs;
}

/** The heredoc a word opens, undefined if none. Exported for COPY/ADD, which refuse one as destination. */
export function heredocWord(word: string): Omit<Heredoc, 'content'> | undefined | 'error' {
  const match = HEREDOC_WORD.exec(word);
  const rest = match?.[3];
  if (!match || !rest) return undefined;
  const none = () => undefined;
  try {
    const plain = processWord(rest, none, '\\', { skipUnsetEnv: true }).words;
    if (plain.length !== 1) return undefined;
    const raw = processWord(rest, none, '\\', { skipUnsetEnv: true, rawQuotes: true }).words;
    if (raw.length !== 1) return 'error';
    const quotes = (s: string) => s.split('').filter((c) => c === '"' || c === "'").length;
    return { name: plain[0]!, chomp: match[2] === '-', quoted: quotes(plain[0]!) !== quotes(raw[0]!) };
  } catch (error) {
    if (error instanceof ShellExpansionError) return 'error';
    throw error;
  }
}
