/**
 * Just enough TOML to put one table into a file someone else owns (Codex's
 * config.toml) and take it out again, leaving every other byte as it was.
 * No TOML library is in node_modules and one table does not warrant one: a
 * recursive-descent reader checks the file's structure (keys, tables, strings,
 * arrays, inline tables; scalar values by their characters) and records where
 * each table header and key is; edits are done on the text between headers.
 * A file this reader refuses is never written.
 */

export interface TomlHeader {
  path: string[];
  array: boolean;
  /** Offset of the header's line. */
  start: number;
}

export interface TomlKey {
  /** The table the key is in, then the key's own dotted path. */
  path: string[];
  /** The header the key is under ([] at the top), and whether it is an array-of-tables header. */
  table: string[];
  tableArray: boolean;
  /** Offset of the value's first character. */
  valueStart: number;
  start: number;
  /** Offset after the key's line (its value, comment and newline). */
  end: number;
}

export interface TomlScan {
  headers: TomlHeader[];
  keys: TomlKey[];
}

class Reader {
  i = 0;
  constructor(readonly s: string) {}

  fail(what: string): never {
    const line = this.s.slice(0, this.i).split('\n').length;
    throw new Error(`line ${line}: ${what}`);
  }

  peek(): string {
    return this.s[this.i] ?? '';
  }

  spaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.i++;
  }

  /** Spaces, newlines and comments (inside arrays). */
  blank(): void {
    for (;;) {
      this.spaces();
      if (this.peek() === '\n') this.i++;
      else if (this.peek() === '\r' && this.s[this.i + 1] === '\n') this.i += 2;
      else if (this.peek() === '#') this.comment();
      else return;
    }
  }

  comment(): void {
    while (this.i < this.s.length && this.peek() !== '\n') {
      if (this.peek() === '\r' && this.s[this.i + 1] !== '\n') this.fail('a lone carriage return');
      this.i++;
    }
  }

  /** The end of a line: spaces, an optional comment, then a newline or the end of the file. */
  eol(): void {
    this.spaces();
    if (this.peek() === '#') this.comment();
    if (this.i >= this.s.length) return;
    if (this.peek() === '\n') this.i++;
    else if (this.peek() === '\r' && this.s[this.i + 1] === '\n') this.i += 2;
    else this.fail(`unexpected "${this.peek()}"`);
  }

  basicString(): string {
    const from = this.i;
    this.i++;
    while (this.peek() !== '"') {
      if (this.i >= this.s.length || this.peek() === '\n') this.fail('an unterminated string');
      this.i += this.peek() === '\\' ? 2 : 1;
    }
    this.i++;
    const raw = this.s.slice(from, this.i);
    try {
      return JSON.parse(raw) as string;
    } catch {
      return raw.slice(1, -1); // a TOML-only escape (\e, \U): compared as written
    }
  }

  literalString(): string {
    const from = ++this.i;
    while (this.peek() !== "'") {
      if (this.i >= this.s.length || this.peek() === '\n') this.fail('an unterminated string');
      this.i++;
    }
    return this.s.slice(from, this.i++);
  }

  multiline(quote: '"""' | "'''"): void {
    this.i += 3;
    for (;;) {
      if (this.i >= this.s.length) this.fail('an unterminated multi-line string');
      if (quote === '"""' && this.peek() === '\\') this.i += 2;
      else if (this.s.startsWith(quote, this.i)) {
        this.i += 3;
        // Up to two quotes right before the closing three belong to the string.
        for (let n = 0; n < 2 && this.peek() === quote[0]; n++) this.i++;
        return;
      } else this.i++;
    }
  }

  key(): string[] {
    const parts: string[] = [];
    for (;;) {
      this.spaces();
      if (this.peek() === '"') parts.push(this.basicString());
      else if (this.peek() === "'") parts.push(this.literalString());
      else {
        const m = /^[A-Za-z0-9_-]+/.exec(this.s.slice(this.i, this.i + 256));
        if (!m) this.fail(this.peek() ? `unexpected "${this.peek()}" where a key should be` : 'a key is missing');
        parts.push(m[0]);
        this.i += m[0].length;
      }
      this.spaces();
      if (this.peek() !== '.') return parts;
      this.i++;
    }
  }

  value(): void {
    if (this.s.startsWith('"""', this.i)) this.multiline('"""');
    else if (this.s.startsWith("'''", this.i)) this.multiline("'''");
    else if (this.peek() === '"') this.basicString();
    else if (this.peek() === "'") this.literalString();
    else this.compound();
  }

  /** Arrays, inline tables, and bare values. */
  private compound(): void {
    if (this.peek() === '[') {
      this.i++;
      for (;;) {
        this.blank();
        if (this.peek() === ']') {
          this.i++;
          return;
        }
        this.value();
        this.blank();
        if (this.peek() === ',') this.i++;
        else if (this.peek() !== ']') this.fail('an array element is not followed by "," or "]"');
      }
    }
    if (this.peek() === '{') {
      this.i++;
      this.spaces();
      if (this.peek() === '}') {
        this.i++;
        return;
      }
      for (;;) {
        this.key();
        if (this.peek() !== '=') this.fail('"=" is missing in an inline table');
        this.i++;
        this.spaces();
        this.value();
        this.spaces();
        if (this.peek() === '}') {
          this.i++;
          return;
        }
        if (this.peek() !== ',') this.fail('an inline table entry is not followed by "," or "}"');
        this.i++;
      }
    }
    // Numbers, booleans, dates and times: their characters (a date and a time may be joined by one space).
    const m = /^(?:\d{4}-\d{2}-\d{2} \d{2}:\d{2}[0-9A-Za-z:.+-]*|[0-9A-Za-z_:.+-]+)/.exec(this.s.slice(this.i, this.i + 128));
    if (!m) this.fail(this.peek() ? `unexpected "${this.peek()}" where a value should be` : 'a value is missing');
    this.i += m[0].length;
  }
}

/** Reads the structure of a TOML document; throws an Error naming the line where it stops making sense. */
export function scanToml(text: string): TomlScan {
  const r = new Reader(text);
  const headers: TomlHeader[] = [];
  const keys: TomlKey[] = [];
  let table: string[] = [];
  let tableArray = false;
  while (r.i < text.length) {
    const start = r.i;
    r.spaces();
    if (r.peek() === '#' || r.peek() === '\n' || r.peek() === '\r' || r.i >= text.length) {
      r.eol();
      continue;
    }
    if (r.peek() === '[') {
      const array = text[r.i + 1] === '[';
      r.i += array ? 2 : 1;
      table = r.key();
      if (!text.startsWith(array ? ']]' : ']', r.i)) r.fail('a table header is not closed');
      r.i += array ? 2 : 1;
      tableArray = array;
      headers.push({ path: table, array, start });
      r.eol();
      continue;
    }
    const key = r.key();
    if (r.peek() !== '=') r.fail('"=" is missing after a key');
    r.i++;
    r.spaces();
    const valueStart = r.i;
    r.value();
    r.eol();
    keys.push({ path: [...table, ...key], table, tableArray, start, end: r.i, valueStart });
  }
  return { headers, keys };
}

const startsWith = (p: string[], prefix: string[]) => prefix.every((k, n) => p[n] === k);

/**
 * The text of the table `path` and its sub-tables, each as [start, end) of the
 * file; undefined when the table is not there. Throws when the table is (also)
 * defined by dotted keys or an inline table elsewhere: that cannot be replaced
 * by moving whole tables.
 */
export function tableRanges(text: string, scan: TomlScan, path: string[]): [number, number][] | undefined {
  const ranges: [number, number][] = [];
  scan.headers.forEach((h, n) => {
    if (startsWith(h.path, path)) ranges.push([h.start, scan.headers[n + 1]?.start ?? text.length]);
  });
  const elsewhere = scan.keys.find((k) => startsWith(k.path, path) && !ranges.some(([a, b]) => k.start >= a && k.start < b));
  if (elsewhere) throw new Error(`[${path.join('.')}] is (also) defined by a dotted key or an inline table`);
  if (ranges.length && scan.headers.filter((h) => h.path.length === path.length && startsWith(h.path, path)).length > 1) {
    throw new Error(`[${path.join('.')}] is defined twice`);
  }
  return ranges.length ? ranges : undefined;
}

/**
 * The first place that defines `name` otherwise than by `[name.X]` table
 * headers: `name = { … }` (an inline table), `name.X.key = …` (dotted keys),
 * keys under a bare `[name]` header, or `[[name…]]` arrays of tables. Such a
 * file cannot take one more `[name.X]` table without becoming invalid TOML
 * (a table cannot be extended once defined inline), so it is not edited.
 */
export type NonTable = { line: number; what: string; kind: 'inline' | 'dotted' | 'under' | 'array' };
export function nonTableDefinition(text: string, scan: TomlScan, name: string): NonTable | undefined {
  const line = (at: number) => text.slice(0, at).split('\n').length;
  const header = scan.headers.find((h) => h.path[0] === name && h.array);
  const key = scan.keys.find((k) => k.path[0] === name && !(k.table.length >= 2 && k.table[0] === name && !k.tableArray));
  const found: (Omit<NonTable, 'line'> & { at: number })[] = [];
  if (header) found.push({ at: header.start, what: `[[${header.path.join('.')}]] (an array of tables)`, kind: 'array' });
  if (key) found.push({ at: key.start, ...keyWhat(key, name) });
  const first = found.sort((a, b) => a.at - b.at)[0];
  return first && { line: line(first.at), what: first.what, kind: first.kind };
}

function keyWhat(k: TomlKey, name: string): Omit<NonTable, 'line'> {
  if (k.tableArray) return { what: `a key under [[${k.table.join('.')}]]`, kind: 'array' };
  if (k.table.length === 0 && k.path.length === 1) return { what: `${name} = … (an inline table)`, kind: 'inline' };
  if (k.table.length === 0) return { what: `${k.path.join('.')} = … (dotted keys)`, kind: 'dotted' };
  return { what: `${k.path.slice(k.table.length).join('.')} = … under [${k.table.join('.')}]`, kind: 'under' };
}

/**
 * The entries of an inline table value `{ k = v, … }` starting at `at`: each
 * key's path and its key and value as written. Undefined when the value there
 * is not an inline table.
 */
export function inlineEntries(text: string, at: number): { key: string[]; keyText: string; valueText: string }[] | undefined {
  const r = new Reader(text);
  r.i = at;
  if (r.peek() !== '{') return undefined;
  r.i++;
  r.spaces();
  const out: { key: string[]; keyText: string; valueText: string }[] = [];
  if (r.peek() === '}') return out;
  for (;;) {
    r.spaces();
    const ks = r.i;
    const key = r.key();
    const keyText = text.slice(ks, r.i).trim();
    if (r.peek() !== '=') r.fail('"=" is missing in an inline table');
    r.i++;
    r.spaces();
    const vs = r.i;
    r.value();
    out.push({ key, keyText, valueText: text.slice(vs, r.i) });
    r.spaces();
    if (r.peek() === '}') return out;
    if (r.peek() !== ',') r.fail('an inline table entry is not followed by "," or "}"');
    r.i++;
  }
}

/** The text with those ranges cut out; nothing else changes. */
export function cutRanges(text: string, ranges: [number, number][]): string {
  let out = text;
  for (const [a, b] of [...ranges].sort((x, y) => y[0] - x[0])) {
    const after = out.slice(b);
    // The blank lines before a header belong to the table above it: at the end of the file they are dropped.
    out =
      (after === ''
        ? out
            .slice(0, a)
            .replace(/(\r?\n)+$/, '\n')
            .replace(/^\n$/, '')
        : out.slice(0, a)) + after;
  }
  return out;
}

/** A TOML basic string: quotes, backslashes and control characters escaped. */
export function tomlString(s: string): string {
  return `"${s.replace(/[\\"\u0000-\u001f\u007f]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))}"`;
}

/** A bare key when it can be one, else a quoted one. */
export function tomlKey(s: string): string {
  return /^[A-Za-z0-9_-]+$/.test(s) ? s : tomlString(s);
}
