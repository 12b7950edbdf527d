/**
 * Kernel descriptors: the one declaration of a WGSL entry point's contract with TypeScript, by name.
 * A descriptor lists the storage bindings (name, access, element type), the uniform block's fields
 * (name and type, in order), the override constants and the op-code enums. From it come
 *   - the WGSL prelude (the uniform struct, the binding declarations, the overrides, one `const` per
 *     enum member), so a kernel body uses the names and never restates them;
 *   - the uniform packer, which fills fields by name with WGSL's uniform layout (scalars 4 bytes,
 *     vec4 and array strides 16, the block rounded to 16) and refuses unknown or missing fields;
 *   - a check of a hand-written shader that declares its own bindings: names, order, access, types
 *     and the uniform struct's fields must equal the descriptor's, else the error names both.
 */
import { ArgumentError } from '../errors.js';

/** Element types of storage arrays. */
export type StorageElement = 'f32' | 'i32' | 'u32' | 'vec4<f32>' | 'vec4<i32>' | 'vec4<u32>' | 'f16' | 'vec4<f16>';

/** One storage binding: `var<storage, read|read_write> name: array<type>`. */
export interface StorageBinding {
  readonly name: string;
  readonly access: 'read' | 'read_write';
  readonly type: StorageElement;
}

/** Scalar and vector types of uniform fields. */
export type UniformScalar = 'u32' | 'i32' | 'f32';
/** A uniform field's type: a scalar, a vec4, or an array of vec4 (`count` elements). */
export type UniformType = UniformScalar | 'vec4<u32>' | 'vec4<i32>' | 'vec4<f32>';

/** One field of the uniform block (an array of `count` vec4 when count is given). */
export interface UniformField {
  readonly name: string;
  readonly type: UniformType;
  readonly count?: number;
}

/** An override constant with its WGSL type and default. */
export interface OverrideConstant {
  readonly type: 'u32' | 'i32' | 'f32' | 'bool';
  readonly default?: number | boolean;
}

/** The whole contract of one WGSL entry point. */
export interface KernelDescriptor {
  /** The kernel's name: profiler label and tuning-table prefix (letters, digits, `_`, `-`, `.`). */
  readonly name: string;
  /** Entry point (default `main`). */
  readonly entry?: string;
  readonly bindings: readonly StorageBinding[];
  /** The uniform block's fields in order; the block is bound after the storage bindings as `params`. */
  readonly uniforms?: readonly UniformField[];
  readonly constants?: Readonly<Record<string, OverrideConstant>>;
  /** Op-code enums: `{ op: ['add', 'mul'] }` gives WGSL `const OP_ADD: u32 = 0u; const OP_MUL: u32 = 1u;`. */
  readonly enums?: Readonly<Record<string, readonly string[]>>;
}

/** The values of a uniform block: a number per scalar field, up to 4 numbers per vec4, 4 x count per array. */
export type UniformValues = Readonly<Record<string, number | readonly number[]>>;

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function fail(d: KernelDescriptor, msg: string): never {
  throw new ArgumentError(`kernel '${d.name}'`, msg);
}

/** Throws ArgumentError naming the kernel when a descriptor is malformed (names, duplicates, counts). */
export function validateDescriptor(d: KernelDescriptor): void {
  if (!/^[A-Za-z0-9_.-]+$/.test(d.name ?? '')) throw new ArgumentError('kernel descriptor', `name must be letters, digits, _ - . (got ${JSON.stringify(d.name)})`);
  const seen = new Set<string>(['params']);
  const names = [...d.bindings.map((b) => b.name), ...Object.keys(d.constants ?? {})];
  for (const n of names) {
    if (!IDENT.test(n)) fail(d, `'${n}' is not a WGSL identifier`);
    if (seen.has(n)) fail(d, `'${n}' is declared twice (or is the reserved name 'params')`);
    seen.add(n);
  }
  const fields = new Set<string>();
  for (const u of d.uniforms ?? []) {
    if (!IDENT.test(u.name)) fail(d, `uniform '${u.name}' is not a WGSL identifier`);
    if (fields.has(u.name)) fail(d, `uniform '${u.name}' is declared twice`);
    fields.add(u.name);
    if (u.count !== undefined && (!Number.isInteger(u.count) || u.count < 1 || !u.type.startsWith('vec4'))) {
      fail(d, `uniform '${u.name}': arrays must be of vec4 with a positive integer count (WGSL's uniform stride is 16 bytes)`);
    }
  }
  for (const [e, members] of Object.entries(d.enums ?? {})) {
    if (!IDENT.test(e) || members.length === 0) fail(d, `enum '${e}' needs an identifier name and at least one member`);
    if (new Set(members).size !== members.length) fail(d, `enum '${e}' repeats a member`);
    for (const m of members) if (!IDENT.test(m)) fail(d, `enum '${e}' member '${m}' is not an identifier`);
  }
}

/** The WGSL type of a uniform field. */
function wgslType(u: UniformField): string {
  return u.count !== undefined ? `array<${u.type}, ${u.count}>` : u.type;
}

/** Byte offset and size of every uniform field, and the block's size (WGSL uniform layout). */
export function uniformLayout(d: KernelDescriptor): { offsets: Record<string, number>; sizes: Record<string, number>; bytes: number } {
  const offsets: Record<string, number> = {};
  const sizes: Record<string, number> = {};
  let at = 0;
  for (const u of d.uniforms ?? []) {
    const vec = u.type.startsWith('vec4');
    const align = vec ? 16 : 4;
    const size = vec ? 16 * (u.count ?? 1) : 4;
    at = Math.ceil(at / align) * align;
    offsets[u.name] = at;
    sizes[u.name] = size;
    at += size;
  }
  return { offsets, sizes, bytes: Math.max(16, Math.ceil(at / 16) * 16) };
}

/** The uniform struct's WGSL type name for a descriptor. */
export function paramsStructName(d: KernelDescriptor): string {
  return `${d.name.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : '')).replace(/^./, (c) => c.toUpperCase())}Params`;
}

/** WGSL `const` name of an enum member: `OP_ADD` for enum `op`, member `add`. */
export function enumConstName(e: string, member: string): string {
  return `${e}_${member}`.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** The WGSL declarations a kernel body is compiled after (see the file comment). */
export function wgslPrelude(d: KernelDescriptor): string {
  validateDescriptor(d);
  const lines = [`// Generated from the kernel descriptor '${d.name}': bindings, uniforms, overrides, enums.`];
  const enableF16 = d.bindings.some((b) => b.type.includes('f16'));
  if (enableF16) lines.unshift('enable f16;');
  if (d.uniforms?.length) {
    lines.push(`struct ${paramsStructName(d)} {`, ...d.uniforms.map((u) => `  ${u.name}: ${wgslType(u)},`), '}');
  }
  d.bindings.forEach((b, i) => lines.push(`@group(0) @binding(${i}) var<storage, ${b.access}> ${b.name}: array<${b.type}>;`));
  if (d.uniforms?.length) lines.push(`@group(0) @binding(${d.bindings.length}) var<uniform> params: ${paramsStructName(d)};`);
  for (const [k, c] of Object.entries(d.constants ?? {})) {
    const dflt = c.default === undefined ? '' : ` = ${c.type === 'bool' ? String(Boolean(c.default)) : `${c.default}${c.type === 'f32' ? '' : c.type === 'u32' ? 'u' : 'i'}`}`;
    lines.push(`override ${k}: ${c.type}${dflt};`);
  }
  for (const [e, members] of Object.entries(d.enums ?? {})) members.forEach((m, i) => lines.push(`const ${enumConstName(e, m)}: u32 = ${i}u;`));
  return `${lines.join('\n')}\n`;
}

/** The value of enum member `member` of enum `e` (an ArgumentError naming the valid members otherwise). */
export function enumValue(d: KernelDescriptor, e: string, member: string): number {
  const members = d.enums?.[e];
  if (!members) fail(d, `has no enum '${e}'`);
  const i = members.indexOf(member);
  if (i < 0) fail(d, `enum '${e}' has no member '${member}' (members: ${members.join(', ')})`);
  return i;
}

/**
 * The uniform block for `values`, filled by field name with WGSL's layout. Every field must be given
 * (unknown names are refused too); integers must be integers in range for u32 / i32.
 */
export function packUniformBlock(d: KernelDescriptor, values: UniformValues): ArrayBuffer {
  const plan = packPlan(d);
  const buf = new ArrayBuffer(plan.bytes);
  const view = new DataView(buf);
  for (const k in values) if (!plan.fields.has(k)) fail(d, `has no uniform '${k}' (uniforms: ${[...plan.fields.keys()].join(', ') || 'none'})`);
  for (const f of plan.list) {
    const { u, scalar, n, offset } = f;
    const v = values[u.name];
    if (v === undefined) fail(d, `uniform '${u.name}' is missing`);
    const xs = typeof v === 'number' ? [v] : v;
    if (xs.length > n || (u.type === scalar && xs.length !== 1)) fail(d, `uniform '${u.name}' (${wgslType(u)}) takes ${n === 1 ? 'one number' : `up to ${n} numbers`}, got ${xs.length}`);
    xs.forEach((x, i) => {
      const at = offset + 4 * i;
      if (scalar === 'f32') view.setFloat32(at, x, true);
      else {
        const ok = Number.isInteger(x) && (scalar === 'u32' ? x >= 0 && x <= 0xffffffff : x >= -0x80000000 && x <= 0x7fffffff);
        if (!ok) fail(d, `uniform '${u.name}' needs ${scalar} values, got ${x}`);
        if (scalar === 'u32') view.setUint32(at, x, true);
        else view.setInt32(at, x, true);
      }
    });
  }
  return buf;
}

/** A descriptor's uniform layout, worked out once: launches pack uniforms on every dispatch. */
interface PackPlan {
  bytes: number;
  fields: ReadonlyMap<string, UniformField>;
  list: readonly { u: UniformField; scalar: UniformScalar; n: number; offset: number }[];
}

const plans = new WeakMap<KernelDescriptor, PackPlan>();

function packPlan(d: KernelDescriptor): PackPlan {
  let plan = plans.get(d);
  if (!plan) {
    const { offsets, bytes } = uniformLayout(d);
    const us = d.uniforms ?? [];
    plan = {
      bytes,
      fields: new Map(us.map((u) => [u.name, u])),
      list: us.map((u) => ({
        u,
        scalar: u.type.replace(/^vec4<|>$/g, '') as UniformScalar,
        n: u.type.startsWith('vec4') ? 4 * (u.count ?? 1) : 1,
        offset: offsets[u.name]!,
      })),
    };
    plans.set(d, plan);
  }
  return plan;
}

/** A binding a shader declares itself: `@binding(i) var<space[, access]> name: type`. */
interface DeclaredBinding {
  index: number;
  space: string;
  access: string;
  name: string;
  type: string;
}

function declaredBindings(wgsl: string): DeclaredBinding[] {
  const re = /@group\(\s*0\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var<\s*(\w+)\s*(?:,\s*(\w+)\s*)?>\s*(\w+)\s*:\s*([^;]+);/g;
  const out: DeclaredBinding[] = [];
  const aliases = typeAliases(wgsl);
  for (const m of wgsl.matchAll(re)) out.push({ index: Number(m[1]), space: m[2]!, access: m[3] ?? (m[2] === 'storage' ? 'read' : ''), name: m[4]!, type: resolveAliases(aliases, m[5]!.replace(/\s+/g, '')) });
  return out.sort((a, b) => a.index - b.index);
}

/** The shader's type aliases (`alias Elem = vec4<f32>;`), name to type without spaces. */
function typeAliases(wgsl: string): Map<string, string> {
  const aliases = new Map<string, string>();
  for (const m of stripComments(wgsl).matchAll(/\balias\s+([A-Za-z_]\w*)\s*=\s*([^;]+);/g)) aliases.set(m[1]!, m[2]!.replace(/\s+/g, ''));
  return aliases;
}

/**
 * `type` with type aliases replaced by what they name, so that a binding declared over an alias
 * (`array<Elem>`, one text included with Elem = f32 or vec4<f32>) is compared by its real type.
 */
function resolveAliases(aliases: ReadonlyMap<string, string>, type: string): string {
  if (aliases.size === 0) return type;
  // Aliases may name aliases: substitute until nothing changes (bounded, against a cycle).
  let t = type;
  for (let i = 0; i < 8; i++) {
    const next = t.replace(/[A-Za-z_]\w*/g, (id) => aliases.get(id) ?? id);
    if (next === t) break;
    t = next;
  }
  return t;
}

function structFields(wgsl: string, struct: string): string[] | null {
  const m = new RegExp(`struct\\s+${struct}\\s*\\{([^}]*)\\}`).exec(wgsl);
  if (!m) return null;
  const body = m[1]!
    .split('\n')
    .map((line) => line.replace(/\/\/.*$/, ''))
    .join(' ');
  // Fields end at commas outside angle brackets (`array<vec4<u32>, 2>` is one type).
  const fields: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of body) {
    if (ch === '<') depth++;
    if (ch === '>') depth--;
    if (ch === ',' && depth === 0) {
      fields.push(cur);
      cur = '';
    } else cur += ch;
  }
  fields.push(cur);
  return fields.map((f) => f.replace(/\s+/g, '')).filter(Boolean);
}

/** WGSL text without comments (line and block), so names in comments do not count as uses. */
function stripComments(wgsl: string): string {
  return wgsl.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, '');
}

/**
 * The identifiers entry point `entry` reaches: those in its own signature and body and, through
 * calls, in every function it calls (transitively). null when the shader has no such function.
 */
export function entryPointUses(wgsl: string, entry: string): Set<string> | null {
  const text = stripComments(wgsl);
  const bodies = new Map<string, string>();
  for (const m of text.matchAll(/\bfn\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(/g)) {
    const open = text.indexOf('{', m.index!);
    if (open < 0) continue;
    let depth = 0;
    let end = open;
    for (; end < text.length; end++) {
      if (text[end] === '{') depth++;
      else if (text[end] === '}' && --depth === 0) break;
    }
    bodies.set(m[1]!, text.slice(m.index!, end + 1));
  }
  if (!bodies.has(entry)) return null;
  const used = new Set<string>();
  const todo = [entry];
  const visited = new Set<string>();
  while (todo.length) {
    const f = todo.pop()!;
    if (visited.has(f)) continue;
    visited.add(f);
    // Member names (`g.x`, `p.n`) are not uses of a module-scope name.
    for (const id of bodies.get(f)!.match(/(?<![.\w])[A-Za-z_][A-Za-z0-9_]*/g) ?? []) {
      used.add(id);
      if (bodies.has(id) && !visited.has(id)) todo.push(id);
    }
  }
  return used;
}

/**
 * Checks a shader that declares its own bindings against the descriptor of entry point `entry`
 * (default `main`) and throws an ArgumentError naming the shader, the kernel and the first
 * difference: a binding's index, name, access or element type, an op-code constant, or a field of
 * the uniform struct. A file may hold several entry points whose bindings share indices under other
 * names (WGSL allows that when no entry point uses both); the check then looks only at the
 * declarations the entry point reaches. Shaders without declarations pass (they get the generated
 * prelude).
 */
export function checkShaderAgainstDescriptor(d: KernelDescriptor, wgsl: string, shaderName: string, entry = d.entry ?? 'main'): void {
  const all = declaredBindings(wgsl);
  if (all.length === 0) return;
  const where = `shader ${shaderName} (entry point ${entry}) and its descriptor '${d.name}'`;
  const uses = entryPointUses(wgsl, entry);
  if (!uses) throw new ArgumentError(where, `the shader has no function '${entry}'`);
  // Where entry points share binding indices under other names, a declaration counts when the entry
  // point uses it, or when it is the only one at its index and carries the descriptor's name there
  // (a binding the layout has but this entry point leaves unused).
  const shared = new Set(all.map((b) => b.index)).size !== all.length;
  const alone = (b: DeclaredBinding) => all.filter((o) => o.index === b.index).length === 1;
  const wantName = (i: number) => (i < d.bindings.length ? d.bindings[i]!.name : undefined);
  const declared = !shared ? all : all.filter((b) => uses.has(b.name) || (alone(b) && (b.space === 'uniform' ? i0(d) === b.index : wantName(b.index) === b.name)));
  const want: DeclaredBinding[] = d.bindings.map((b, i) => ({ index: i, space: 'storage', access: b.access, name: b.name, type: `array<${b.type}>` }));
  const uniform = declared.find((b) => b.space === 'uniform');
  if (d.uniforms?.length) want.push({ index: d.bindings.length, space: 'uniform', access: '', name: uniform?.name ?? 'params', type: uniform?.type ?? '' });
  if (declared.length !== want.length) {
    throw new ArgumentError(where, `disagree on the number of bindings: the entry point reaches ${declared.length} (${declared.map((b) => b.name).join(', ') || 'none'}), the descriptor declares ${want.length} (${want.map((b) => b.name).join(', ')})`);
  }
  declared.forEach((b, i) => {
    const w = want[i]!;
    if (b.index !== w.index || b.space !== w.space || b.access !== w.access || b.name !== w.name || b.type !== w.type) {
      throw new ArgumentError(where, `disagree on binding ${i}: the shader has @binding(${b.index}) var<${b.space}${b.access ? `, ${b.access}` : ''}> ${b.name}: ${b.type}, the descriptor var<${w.space}${w.access ? `, ${w.access}` : ''}> ${w.name}: ${w.type}`);
    }
  });
  // Op codes: a shader with its own declarations also declares the enum constants itself, with the
  // descriptor's names and values.
  for (const [e, members] of Object.entries(d.enums ?? {})) {
    members.forEach((m, i) => {
      const name = enumConstName(e, m);
      const found = new RegExp(`const\\s+${name}\\s*:\\s*u32\\s*=\\s*(\\d+)u\\s*;`).exec(wgsl);
      if (!found || Number(found[1]) !== i) {
        throw new ArgumentError(where, `disagree on op code ${name}: the descriptor has ${i}u, the shader ${found ? `${found[1]}u` : 'no such const'}`);
      }
    });
  }
  if (uniform && d.uniforms?.length) {
    const fields = structFields(wgsl, uniform.type);
    const expected = d.uniforms.map((u) => `${u.name}:${wgslType(u).replace(/\s+/g, '')}`);
    if (!fields || fields.join(';') !== expected.join(';')) {
      throw new ArgumentError(where, `disagree on the uniform struct ${uniform.type}: the shader has {${fields?.join(', ') ?? 'no such struct'}}, the descriptor {${expected.join(', ')}}`);
    }
  }
}

/** The uniform block's binding index under descriptor d (after the storage bindings). */
function i0(d: KernelDescriptor): number {
  return d.uniforms?.length ? d.bindings.length : -1;
}

/**
 * The storage buffers of a dispatch in the descriptor's binding order, from a map by binding name
 * (every binding must be given, unknown names are refused), so launch code never counts positions.
 */
export function bindingsByName<B>(d: KernelDescriptor, named: Readonly<Record<string, B>>): B[] {
  for (const k of Object.keys(named)) if (!d.bindings.some((b) => b.name === k)) fail(d, `has no binding '${k}' (bindings: ${d.bindings.map((b) => b.name).join(', ')})`);
  return d.bindings.map((b) => {
    const v = named[b.name];
    if (v === undefined) fail(d, `binding '${b.name}' was not given`);
    return v;
  });
}

/** The bind-group kinds of a descriptor's bindings (storage read / read-write, then the uniform block). */
export function bindingKinds(d: KernelDescriptor): ('read' | 'write' | 'uniform')[] {
  const kinds: ('read' | 'write' | 'uniform')[] = d.bindings.map((b) => (b.access === 'read' ? 'read' : 'write'));
  if (d.uniforms?.length) kinds.push('uniform');
  return kinds;
}
