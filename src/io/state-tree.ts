/**
 * State trees: what optimisers and schedules return from `stateDict()` (plain objects, arrays,
 * string-keyed Maps, JSON values, and Tensors at the leaves), split into JSON text plus tensors
 * named by their dotted path, and joined back. A tensor leaf becomes `{"$tensor": "<path>"}` and a
 * Map `{"$map": [[key, value], ...]}`; everything else is stored as itself. JSON must represent
 * the value exactly, so NaN, Infinity, class instances, typed arrays and cycles are refused rather
 * than silently changed.
 */
import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';

const TENSOR = '$tensor';
const MAP = '$map';

function isMarker(v: object): boolean {
  const keys = Object.keys(v);
  return keys.length === 1 && (keys[0] === TENSOR || keys[0] === MAP);
}

/**
 * Splits `value` into JSON-able data and its tensors by dotted path (`state.0.buffers.exp_avg`).
 * Throws ArgumentError naming `op` and the offending path for anything JSON cannot hold exactly,
 * for a tensor when `allowTensors` is false, and for two tensors with the same path.
 */
export function splitStateTree(value: unknown, what: string, op: string, allowTensors = true): { json: unknown; tensors: Map<string, Tensor> } {
  const tensors = new Map<string, Tensor>();
  const stack: unknown[] = [];
  const walk = (v: unknown, path: string[]): unknown => {
    const where = path.length ? `${what}.${path.join('.')}` : what;
    const bad = (why: string): never => {
      throw new ArgumentError(op, `${where} ${why}; checkpoint state must be plain JSON, Maps and tensors`);
    };
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
    if (typeof v === 'number') return Number.isFinite(v) ? v : bad(`is ${v}, which JSON cannot represent`);
    if (typeof v !== 'object') return bad(`is a ${typeof v}`);
    if (v instanceof Tensor) {
      if (!allowTensors) bad('is a tensor');
      if (path.length === 0) bad('is a bare tensor (wrap it in an object)');
      const name = path.join('.');
      if (tensors.has(name)) bad(`names the same tensor path as another entry ('${name}'); avoid dots in keys`);
      tensors.set(name, v);
      return { [TENSOR]: name };
    }
    if (stack.includes(v)) bad('is a cycle');
    stack.push(v);
    let out: unknown;
    if (Array.isArray(v)) {
      out = v.map((u, i) => (u === undefined ? bad(`[${i}] is undefined`) : walk(u, [...path, String(i)])));
    } else if (v instanceof Map) {
      out = {
        [MAP]: [...v].map(([k, u]) => {
          if (typeof k !== 'string') bad(`has a Map key of type ${typeof k} (only strings)`);
          return [k, walk(u, [...path, k])];
        }),
      };
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) bad(`is a ${proto?.constructor?.name ?? 'non-plain object'}`);
      if (isMarker(v)) bad(`uses the reserved key '${Object.keys(v)[0]}'`);
      // An undefined property is dropped, as JSON.stringify does; it reads back as undefined.
      out = Object.fromEntries(
        Object.entries(v)
          .filter(([, u]) => u !== undefined)
          .map(([k, u]) => [k, walk(u, [...path, k])]),
      );
    }
    stack.pop();
    return out;
  };
  return { json: walk(value, []), tensors };
}

/** The tensor leaves of a state tree by dotted path (lenient: anything else is ignored). */
export function tensorLeaves(value: unknown): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const seen = new Set<unknown>();
  const walk = (v: unknown, path: string[]): void => {
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    if (v instanceof Tensor) {
      out.set(path.join('.'), v);
      return;
    }
    seen.add(v);
    if (Array.isArray(v)) v.forEach((u, i) => walk(u, [...path, String(i)]));
    else if (v instanceof Map) for (const [k, u] of v) walk(u, [...path, String(k)]);
    else for (const [k, u] of Object.entries(v)) walk(u, [...path, k]);
  };
  walk(value, []);
  return out;
}

/**
 * Rebuilds a state tree from its JSON form, replacing each `{"$tensor": path}` with `lookup(path)`
 * and each `{"$map": entries}` with a Map. `fail` reports a reference to a missing tensor or a
 * malformed marker (the caller turns it into a FormatError naming the file).
 */
export function joinStateTree(json: unknown, lookup: (path: string) => Tensor | undefined, fail: (problem: string) => never): unknown {
  const walk = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(walk);
    const o = v as Record<string, unknown>;
    if (isMarker(o)) {
      if (TENSOR in o) {
        const name = o[TENSOR];
        if (typeof name !== 'string') return fail(`malformed tensor reference ${JSON.stringify(o)}`);
        return lookup(name) ?? fail(`the state refers to tensor '${name}', which is not in the file`);
      }
      const entries = o[MAP];
      if (!Array.isArray(entries) || !entries.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string')) {
        return fail('malformed Map in the state');
      }
      return new Map(entries.map(([k, u]) => [k as string, walk(u)]));
    }
    return Object.fromEntries(Object.entries(o).map(([k, u]) => [k, walk(u)]));
  };
  return walk(json);
}

/** Every tensor path a JSON state tree refers to. */
export function referencedTensors(json: unknown): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) v.forEach(walk);
    else {
      const o = v as Record<string, unknown>;
      if (isMarker(o) && typeof o[TENSOR] === 'string') out.add(o[TENSOR] as string);
      else Object.values(o).forEach(walk);
    }
  };
  walk(json);
  return out;
}
