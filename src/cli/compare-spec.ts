/**
 * The entries of `webmtl compare --models` and `--balancers`: a name with options,
 * `gradnorm:alpha=0.5`, `shared-encoder:head=aspp:headChannels=64`. Options are separated by ':'
 * (',' outside brackets separates entries); a value reads as JSON when it parses (numbers, booleans, arrays), else as
 * a string. The entry's text is its label in tables and, made a run name by {@link folderPart}, in
 * run-folder names, so an entry without options names its folders as before.
 */
import { WebmtlError } from '../errors.js';

/** One parsed entry. */
export interface GridEntry {
  /** The text as given (without spaces): the row label. */
  readonly label: string;
  /** The architecture or balancer method. */
  readonly name: string;
  /** The options, in the order given. */
  readonly options: Readonly<Record<string, unknown>>;
}

/** The list option's entries, each as {@link parseEntry} reads it; at least one. */
export function parseEntries(text: string, what: string): GridEntry[] {
  const xs = splitTop(text)
    .map((x) => x.replace(/\s+/g, ''))
    .filter(Boolean);
  if (xs.length === 0) throw new WebmtlError(`--${what} needs at least one value`);
  const entries = xs.map((x) => parseEntry(x, what));
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.label)) throw new WebmtlError(`--${what}: '${e.label}' is given twice`);
    seen.add(e.label);
  }
  return entries;
}

/** `text` split at the commas outside brackets and braces (`fixed:weights=[1,3],equal`: two entries). */
function splitTop(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) {
      out.push(text.slice(from, i));
      from = i + 1;
    }
  }
  out.push(text.slice(from));
  return out;
}

/**
 * One entry `name[:key=value[:key=value...]]`. Throws a WebmtlError that shows the syntax for an
 * option without '=', an empty key or a key given twice.
 */
export function parseEntry(text: string, what: string): GridEntry {
  const [name, ...opts] = text.split(':');
  if (!name) throw new WebmtlError(`--${what}: '${text}' has no name before ':' (write e.g. gradnorm:alpha=1.5)`);
  const options: Record<string, unknown> = {};
  for (const o of opts) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw new WebmtlError(`--${what}: option '${o}' of '${text}' is not key=value (write e.g. ${name}:alpha=1.5)`);
    const key = o.slice(0, eq);
    if (Object.hasOwn(options, key)) throw new WebmtlError(`--${what}: '${text}' sets '${key}' twice`);
    options[key] = readValue(o.slice(eq + 1));
  }
  return { label: text, name, options };
}

function readValue(v: string): unknown {
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
}

/**
 * The run-name part of a label: ':' becomes '_' and every other character a run name may not hold
 * (they are letters, digits, '.', '_', '-') becomes '-': `gradnorm:alpha=0.5` -> `gradnorm_alpha-0.5`.
 */
export function folderPart(label: string): string {
  return label.replace(/:/g, '_').replace(/[^A-Za-z0-9._-]/g, '-');
}

/**
 * Checks that every entry names one of `valid` and, when `keys` is given, that its options are among
 * `keys(name)`; throws one WebmtlError listing the valid choices.
 */
export function checkEntries(entries: readonly GridEntry[], valid: readonly string[], what: string, keys?: (name: string) => readonly string[]): void {
  const bad = entries.filter((e) => !valid.includes(e.name));
  if (bad.length) throw new WebmtlError(`--${what}: unknown ${bad.map((b) => `'${b.name}'`).join(', ')}; valid: ${valid.join(', ')}`);
  if (!keys) return;
  for (const e of entries) {
    const allowed = keys(e.name);
    const extra = Object.keys(e.options).filter((k) => !allowed.includes(k));
    if (extra.length) {
      throw new WebmtlError(`--${what}: '${e.name}' takes no option ${extra.map((k) => `'${k}'`).join(', ')}; its options: ${allowed.join(', ') || '(none)'}`);
    }
  }
}
