/**
 * Reading a policy folder: every YAML file parsed with positions, merged into
 * one plain object, and a way back from a path in that object to the file,
 * line and column that wrote it. Knows nothing about what a valid policy is.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import type { PolicyPath, Problem } from "./problem.ts";

export interface PolicySource {
  /** Every readable file's top-level keys, and the keys one level down, merged; undefined when no file could be read. */
  readonly data: Record<string, unknown> | undefined;
  /**
   * False when a file had YAML syntax errors and was left out: what a parser
   * recovers from a broken file cannot be trusted, so its content is not
   * validated, and problems that its content might resolve are not reported.
   */
  readonly complete: boolean;
  /** The files read, as paths relative to where the folder was given from. */
  readonly files: readonly string[];
  /** Problems found while reading: missing folder, YAML syntax, duplicate keys. */
  readonly problems: readonly Problem[];
  /** "file:line:column" of the deepest part of `path` that some file writes, else the folder. */
  locate(path: PolicyPath): string | undefined;
}

interface ParsedFile {
  readonly file: string;
  readonly doc: Document;
  readonly lines: LineCounter;
  readonly readable: boolean;
}

const POLICY_FILE = /\.ya?ml$/i;

export function sourceFromObject(data: Record<string, unknown>): PolicySource {
  return { data, complete: true, files: [], problems: [], locate: () => undefined };
}

export async function readPolicyFolder(folder: string): Promise<PolicySource> {
  const unreadable = await checkFolder(folder);
  if (unreadable !== undefined) return nothingRead(unreadable);

  // Dot files are skipped because editors leave lock files such as `.#purposes.yaml` next to the real ones.
  const names = (await readdir(folder, { withFileTypes: true }))
    .filter(
      (entry) =>
        (entry.isFile() || entry.isSymbolicLink()) && !entry.name.startsWith(".") && POLICY_FILE.test(entry.name),
    )
    .map((entry) => entry.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (names.length === 0) return nothingRead(`no policy files in ${folder} (expected files ending in .yaml or .yml)`);

  const problems: Problem[] = [];
  const parsed: ParsedFile[] = [];
  for (const name of names) parsed.push(await parseFile(path.join(folder, name), problems));

  const { data, owners } = merge(parsed, problems);
  return {
    data,
    complete: parsed.every((p) => p.readable),
    files: parsed.map((p) => p.file),
    problems,
    locate: (where) => {
      const owner = owners.get(ownerKey(where.slice(0, 2))) ?? owners.get(ownerKey(where.slice(0, 1)));
      return owner === undefined ? folder : at(owner, offsetOf(owner.doc, where));
    },
  };
}

async function parseFile(file: string, problems: Problem[]): Promise<ParsedFile> {
  const lines = new LineCounter();
  const doc = parseDocument(await readFile(file, "utf8"), {
    lineCounter: lines,
    uniqueKeys: false,
    prettyErrors: false,
  });
  const parsed = { file, doc, lines, readable: doc.errors.length === 0 };
  // The parser often reports one mistake several times at the same spot; the first report says it best.
  const reported = new Set<number>();
  for (const error of doc.errors) {
    if (reported.has(error.pos[0])) continue;
    reported.add(error.pos[0]);
    problems.push({ path: [], message: `YAML syntax error: ${error.message}`, at: at(parsed, error.pos[0]) });
  }
  problems.push(...duplicateKeys(parsed, doc.contents, []));
  if (parsed.readable && !isMap(doc.contents)) {
    const what = doc.contents === null ? "is empty" : isSeq(doc.contents) ? "is a list" : "is a single value";
    problems.push({
      path: [],
      message: `${what}; a policy file must be a set of "key: value" entries such as purposes: or regions:`,
      at: at(parsed, 0),
    });
  }
  return parsed;
}

function nothingRead(message: string): PolicySource {
  return { data: undefined, complete: false, files: [], problems: [{ path: [], message }], locate: () => undefined };
}

async function checkFolder(folder: string): Promise<string | undefined> {
  try {
    if (!(await stat(folder)).isDirectory())
      return `${folder} is a file; policies are read from a folder of YAML files`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT"
      ? `policy folder ${folder} not found (looked in ${path.resolve(folder)})`
      : `cannot read policy folder ${folder}: ${String(error)}`;
  }
  return undefined;
}

/** Duplicates inside one file; `uniqueKeys` is off in the parser so that both lines can be named here. */
function duplicateKeys(file: ParsedFile, node: unknown, where: PolicyPath): Problem[] {
  const problems: Problem[] = [];
  if (isMap(node)) {
    const firstSeen = new Map<string, number>();
    for (const pair of node.items) {
      const key = keyText(pair.key);
      const offset = rangeStart(pair.key);
      const first = firstSeen.get(key);
      if (first === undefined) firstSeen.set(key, offset);
      else {
        const message = `defined twice in this file (first at line ${file.lines.linePos(first).line})`;
        problems.push({ path: [...where, key], message, at: at(file, offset) });
      }
      problems.push(...duplicateKeys(file, pair.value, [...where, key]));
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => problems.push(...duplicateKeys(file, item, [...where, index])));
  }
  return problems;
}

/**
 * Top-level keys merge across files, and so do the entries one level down
 * (each file may add purposes, regions or routes); anything defined in two
 * files is a problem naming both, since silently preferring one would hide
 * a conflict between two authors.
 */
function merge(files: readonly ParsedFile[], problems: Problem[]) {
  const data: Record<string, unknown> = {};
  const owners = new Map<string, ParsedFile>();
  const claim = (where: PolicyPath, file: ParsedFile): boolean => {
    const previous = owners.get(ownerKey(where));
    if (previous === undefined) {
      owners.set(ownerKey(where), file);
      return true;
    }
    const here = at(file, offsetOf(file.doc, where));
    problems.push({
      path: where,
      message: `defined twice: in ${at(previous, offsetOf(previous.doc, where))} and ${here}`,
      at: here,
    });
    return false;
  };

  for (const file of files.filter((f) => f.readable)) {
    const content = toJS(file, problems);
    if (!isRecord(content)) continue;
    for (const [key, value] of Object.entries(content)) {
      // Own keys only, and defined rather than assigned: a file may write `__proto__:` as a key, which must
      // stay a key (for validation to refuse) instead of reaching Object.prototype through `data[key]`.
      const existing = Object.hasOwn(data, key) ? data[key] : undefined;
      if (isRecord(existing) && isRecord(value)) {
        for (const [child, childValue] of Object.entries(value))
          if (claim([key, child], file)) define(existing, child, childValue);
      } else if (claim([key], file)) {
        define(data, key, isRecord(value) ? { ...value } : value);
        if (isRecord(value)) for (const child of Object.keys(value)) owners.set(ownerKey([key, child]), file);
      }
    }
  }
  return { data, owners };
}

function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function toJS(file: ParsedFile, problems: Problem[]): unknown {
  try {
    return file.doc.toJS();
  } catch (error) {
    // Thrown for alias bombs (too many alias expansions), among others.
    problems.push({ path: [], message: `cannot be read: ${(error as Error).message}`, at: at(file, 0) });
    return undefined;
  }
}

/** Offset of the key (or list item) deepest along `where` that the file contains. */
function offsetOf(doc: Document, where: PolicyPath): number {
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  for (const segment of where) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(segment));
      if (pair === undefined) break;
      offset = rangeStart(pair.key);
      node = pair.value;
    } else if (isSeq(node) && typeof segment === "number" && node.items[segment] !== undefined) {
      node = node.items[segment];
      offset = rangeStart(node);
    } else break;
  }
  return offset;
}

function at(file: ParsedFile, offset: number): string {
  const { line, col } = file.lines.linePos(offset);
  return `${file.file}:${line}:${col}`;
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

function rangeStart(node: unknown): number {
  return (node as Node | null)?.range?.[0] ?? 0;
}

function ownerKey(where: PolicyPath): string {
  return JSON.stringify(where.map(String));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
