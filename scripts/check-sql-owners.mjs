#!/usr/bin/env node
/**
 * One module owns each table: SQL and database clients live in src/store/
 * (and the generated Prisma client in src/generated/), nowhere else in src/.
 * This check fails (exit 1), listing file:line, when a file outside those
 * folders runs raw SQL ($queryRaw, $executeRaw and their Unsafe forms,
 * .query(, .exec(, sql`…`), calls Prisma (prisma., $transaction(), or
 * imports the generated Prisma client, a Prisma adapter, pg or
 * @electric-sql/pglite. The rest of the code calls the store's methods.
 *
 * Plain Node, no dependencies: comments and the text of strings are skipped,
 * and regular expressions are told apart from SQL (`/…/.exec(text)`, or a
 * name declared as a RegExp in the same file), so prose, messages and
 * pattern matching do not trip it.
 *
 *   node scripts/check-sql-owners.mjs [root]     (root: the repository, default the working directory)
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(process.argv[2] ?? ".");
const SOURCE = path.join(root, "src");
/** Where SQL and database clients belong. */
const OWNERS = ["src/store/", "src/generated/"];
const EXTENSIONS = /\.(?:[cm]?ts|[cm]?js)$/;

/** [pattern over code with comments removed, what it is]. */
const CALLS = [
  [/\$(?:queryRaw|executeRaw)(?:Unsafe)?\b/g, "raw SQL through Prisma"],
  [/\bsql\s*`/g, "a sql`…` template"],
  // Type arguments may sit between the name and the call: .query<Row>(…).
  [/\.\s*query\s*(?:<[^()]{0,200}?>)?\s*\(/g, "a SQL query (.query)"],
  [/\.\s*exec\s*(?:<[^()]{0,200}?>)?\s*\(/g, "a SQL script (.exec)"],
  [/\$transaction\s*(?:<[^()]{0,200}?>)?\s*\(/g, "a Prisma transaction"],
  [/\bprisma\s*\.\s*[$\w]/g, "a Prisma call"],
];

/** Module specifiers only the store may import. */
const CLIENTS = [
  [/(?:^|\/)generated\/prisma(?:\/|$)/, "the generated Prisma client"],
  [/^@prisma\//, "a Prisma package"],
  [/^pglite-prisma-adapter$/, "a Prisma adapter"],
  [/^pg(?:\/|$)/, "the pg driver"],
  [/^@electric-sql\/pglite(?:\/|$)/, "PGlite"],
];

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const relative = path.relative(root, full).split(path.sep).join("/");
    if (entry.isDirectory()) {
      if (!OWNERS.some((owner) => `${relative}/`.startsWith(owner))) yield* files(full);
    } else if (EXTENSIONS.test(entry.name) && !entry.name.endsWith(".d.ts")) {
      yield { full, relative };
    }
  }
}

const KEYWORDS_BEFORE_REGEX = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

/**
 * The code with comments and the text of strings and templates blanked, each
 * regular expression literal replaced by `/re/` (flags kept), line breaks
 * where they were (line numbers stay right); and the module specifiers it
 * imports (`from "x"`, `import "x"`, `import("x")`, `require("x")`), each
 * with its line.
 */
function scan(text) {
  let out = "";
  let i = 0;
  const specifiers = [];
  let beforeParen = ""; // what came before the last "(": import( and require( take a specifier
  /** Open template literals, each with the depth of braces opened inside its current ${…}. */
  const templates = [];
  let braces = 0;
  let last = ""; // the last significant character or word outside strings and comments

  const blank = (s) => s.replace(/[^\n]/g, " ");
  const regexCanStart = () => last === "" || /[(,=:[!&|?{};+\-*%<>~^]$/.test(last) || KEYWORDS_BEFORE_REGEX.has(last);

  const readTemplate = () => {
    // At the character after ` or after the } closing a ${…}.
    while (i < text.length) {
      const c = text[i];
      if (c === "\\") {
        out += blank(text.slice(i, i + 2));
        i += 2;
      } else if (c === "`") {
        out += c;
        i++;
        last = "`";
        return;
      } else if (c === "$" && text[i + 1] === "{") {
        out += "${";
        i += 2;
        templates.push(braces);
        braces = 0;
        last = "{";
        return;
      } else {
        out += blank(c);
        i++;
      }
    }
  };

  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === "/" && next === "/") {
      const end = text.indexOf("\n", i);
      const stop = end === -1 ? text.length : end;
      out += blank(text.slice(i, stop));
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end === -1 ? text.length : end + 2;
      out += blank(text.slice(i, stop));
      i = stop;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== "\n") j += text[j] === "\\" ? 2 : 1;
      if (
        last === "from" ||
        last === "import" ||
        (last === "(" && (beforeParen === "import" || beforeParen === "require"))
      ) {
        specifiers.push({ specifier: text.slice(i + 1, j), line: lineOf(text, i) });
      }
      out += c + blank(text.slice(i + 1, j)) + c;
      i = j + 1;
      last = c;
    } else if (c === "`") {
      out += c;
      i++;
      readTemplate();
    } else if (c === "}" && templates.length > 0 && braces === 0) {
      out += c;
      i++;
      braces = templates.pop();
      readTemplate();
    } else if (c === "/" && regexCanStart()) {
      let j = i + 1;
      let inClass = false;
      while (j < text.length && text[j] !== "\n") {
        if (text[j] === "\\") j += 2;
        else {
          if (text[j] === "[") inClass = true;
          else if (text[j] === "]") inClass = false;
          else if (text[j] === "/" && !inClass) break;
          j++;
        }
      }
      let k = j + 1;
      while (k < text.length && /[a-z]/i.test(text[k])) k++;
      out += `/re/${text.slice(j + 1, k)}`;
      i = k;
      last = "re";
    } else {
      if (c === "{") braces++;
      else if (c === "}") braces--;
      if (/[A-Za-z_$]/.test(c)) {
        let j = i;
        while (j < text.length && /[\w$]/.test(text[j])) j++;
        last = text.slice(i, j);
        out += last;
        i = j;
        continue;
      }
      if (c === "(") beforeParen = last;
      if (!/\s/.test(c)) last = c;
      out += c;
      i++;
    }
  }
  return { code: out, specifiers };
}

function lineOf(text, index) {
  let line = 1;
  for (let at = text.indexOf("\n"); at !== -1 && at < index; at = text.indexOf("\n", at + 1)) line++;
  return line;
}

const problems = [];
let checked = 0;
for (const file of files(SOURCE)) {
  checked++;
  const { code: stripped, specifiers } = scan(readFileSync(file.full, "utf8"));
  // Names bound to regular expressions in this file: their .exec() is pattern matching, not SQL.
  const regexNames = new Set(
    [...stripped.matchAll(/\b(?:const|let|var)\s+([\w$]+)\s*(?::\s*RegExp\s*)?=\s*(?:\/re\/|new\s+RegExp\b)/g)].map(
      (m) => m[1],
    ),
  );
  for (const [pattern, what] of CALLS) {
    for (const match of stripped.matchAll(pattern)) {
      if (what.includes(".exec")) {
        const before = stripped.slice(0, match.index);
        const receiver = /(\/re\/[a-z]*|[\w$]+)\s*$/i.exec(before)?.[1];
        if (receiver !== undefined && (receiver.startsWith("/re/") || regexNames.has(receiver))) continue;
      }
      problems.push(`${file.relative}:${lineOf(stripped, match.index)}: ${what}`);
    }
  }
  for (const { specifier, line } of specifiers) {
    const client = CLIENTS.find(([pattern]) => pattern.test(specifier));
    if (client) problems.push(`${file.relative}:${line}: imports ${client[1]} ("${specifier}")`);
  }
}

if (problems.length > 0) {
  problems.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  for (const problem of problems) console.error(problem);
  console.error(
    `\ncheck-sql-owners: ${problems.length} place${problems.length === 1 ? "" : "s"} outside src/store/ touch the database directly; ` +
      "move the query into the store module that owns its table and call its method.",
  );
  process.exit(1);
}
console.log(`check-sql-owners: no SQL or database client outside src/store/ (${checked} files checked)`);
