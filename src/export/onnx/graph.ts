/**
 * A small builder of ONNX graphs for the exporter: nodes, initializers named by the model's state
 * dict keys, and values that carry their static shape (batch symbolic, -1), so emitters can size
 * reshapes, slices and resizes as webmtl's forward does. The ops are written once here with
 * PyTorch's semantics: Conv with explicit pads, eval BatchNormalization, Resize as F.interpolate
 * (bilinear align_corners=False -> pytorch_half_pixel linear; nearest -> asymmetric floor).
 */
import { ArgumentError } from '../../errors.js';
import type { HostTensor } from '../../io/safetensors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { ONNX_ATTR, ONNX_DTYPE } from './schema.js';

/** A value in the graph: its name and static shape (dimension 0, the batch, is -1). */
export interface V {
  readonly name: string;
  readonly shape: readonly number[];
}

type AttrValue = number | string | readonly number[] | { float: number } | { floats: readonly number[] };

const isInt = (v: number) => Number.isInteger(v);

function attribute(name: string, v: AttrValue): Record<string, unknown> {
  if (typeof v === 'string') return { name, type: ONNX_ATTR.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return isInt(v) ? { name, type: ONNX_ATTR.INT, i: v } : { name, type: ONNX_ATTR.FLOAT, f: v };
  if ('float' in v) return { name, type: ONNX_ATTR.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: ONNX_ATTR.FLOATS, floats: [...v.floats] };
  return { name, type: ONNX_ATTR.INTS, ints: [...(v as readonly number[])] };
}

/** The graph under construction (see the file comment). */
export class OnnxGraph {
  readonly nodes: Record<string, unknown>[] = [];
  readonly initializers: Record<string, unknown>[] = [];
  private readonly added = new Set<string>();
  private count = 0;

  /**
   * `names` maps every parameter and buffer of the model to its state-dict key, `host` holds their
   * values (read back once, before emitting).
   */
  constructor(
    private readonly names: ReadonlyMap<Tensor, string>,
    private readonly host: ReadonlyMap<string, HostTensor>,
  ) {}

  private fresh(hint: string): string {
    return `${hint}_${this.count++}`;
  }

  /** Adds a node; returns its output value names (`outputs` of them). */
  node(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, outputs = 1): string[] {
    const out = Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push({
      opType,
      input: [...inputs],
      output: out,
      name: out[0],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  /** The initializer of a model tensor (a parameter or buffer), named by its state-dict key. */
  weight(t: Tensor): V {
    const name = this.names.get(t);
    if (!name) throw new ArgumentError('exportOnnx', 'a tensor the forward reads is not a parameter or buffer of the model');
    if (!this.added.has(name)) {
      const h = this.host.get(name)!;
      // raw_data: the float32 values as little-endian bytes (ONNX's layout), whatever the host's order.
      const raw = new Uint8Array(h.data.length * 4);
      const view = new DataView(raw.buffer);
      h.data.forEach((v, i) => view.setFloat32(4 * i, v, true));
      this.initializers.push({ name, dims: [...h.shape], dataType: ONNX_DTYPE.FLOAT, rawData: raw });
      this.added.add(name);
    }
    return { name, shape: [...t.shape] };
  }

  /** A constant float tensor. */
  constFloat(values: readonly number[], dims: readonly number[]): V {
    const name = this.fresh('const');
    this.initializers.push({ name, dims: [...dims], dataType: ONNX_DTYPE.FLOAT, floatData: [...values] });
    return { name, shape: [...dims] };
  }

  /** A constant int64 tensor (shapes, axes, sizes). */
  constInt(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const name = this.fresh('ints');
    this.initializers.push({ name, dims: [...dims], dataType: ONNX_DTYPE.INT64, int64Data: [...values] });
    return name;
  }

  /** An elementwise op of same-shaped (or broadcast) inputs; the result has the first input's shape. */
  unary(opType: string, x: V, attrs: Record<string, AttrValue> = {}): V {
    return { name: this.node(opType, [x.name], attrs)[0]!, shape: x.shape };
  }

  /** a + b, a * b (shape of a, which must be the larger). */
  binary(opType: 'Add' | 'Mul' | 'Sub' | 'Div', a: V, b: V): V {
    return { name: this.node(opType, [a.name, b.name])[0]!, shape: a.shape };
  }

  /** Concatenation along `axis`. */
  concat(xs: readonly V[], axis: number): V {
    const shape = [...xs[0]!.shape];
    shape[axis] = xs.reduce((a, x) => a + x.shape[axis]!, 0);
    return { name: this.node('Concat', xs.map((x) => x.name), { axis })[0]!, shape };
  }

  /** x[:, start:start+length] along `axis`. */
  slice(x: V, axis: number, start: number, length: number): V {
    const shape = [...x.shape];
    shape[axis] = length;
    const name = this.node('Slice', [x.name, this.constInt([start]), this.constInt([start + length]), this.constInt([axis])])[0]!;
    return { name, shape };
  }

  /** Reshape to `shape`, where a 0 keeps the input's dimension (the batch). */
  reshape(x: V, shape: readonly number[]): V {
    const out = shape.map((d, i) => (d === 0 ? x.shape[i]! : d));
    return { name: this.node('Reshape', [x.name, this.constInt(shape)])[0]!, shape: out };
  }

  /** 2-D convolution with PyTorch's padding [top, left] on both sides. */
  conv(x: V, weight: V, bias: V | null, o: { stride: [number, number]; pad: [number, number]; dilation: [number, number]; groups: number }): V {
    const [oc, , kh, kw] = weight.shape as [number, number, number, number];
    const size = (n: number, k: number, a: 0 | 1) => Math.floor((n + 2 * o.pad[a] - o.dilation[a] * (k - 1) - 1) / o.stride[a]) + 1;
    const name = this.node('Conv', bias ? [x.name, weight.name, bias.name] : [x.name, weight.name], {
      kernel_shape: [kh, kw],
      strides: o.stride,
      pads: [o.pad[0], o.pad[1], o.pad[0], o.pad[1]],
      dilations: o.dilation,
      group: o.groups,
    })[0]!;
    return { name, shape: [x.shape[0]!, oc, size(x.shape[2]!, kh, 0), size(x.shape[3]!, kw, 1)] };
  }

  /** Max pooling (square window), with PyTorch's ceil_mode rule for the output size. */
  maxPool(x: V, k: number, stride: number, pad: number, ceil: boolean): V {
    const size = (n: number) => {
      const span = n + 2 * pad - k;
      let o = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
      if (ceil && (o - 1) * stride >= n + pad) o--; // the last window must start inside the input
      return o;
    };
    const name = this.node('MaxPool', [x.name], { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad], ceil_mode: ceil ? 1 : 0 })[0]!;
    return { name, shape: [x.shape[0]!, x.shape[1]!, size(x.shape[2]!), size(x.shape[3]!)] };
  }

  /** F.interpolate(x, size=[h, w]) with mode 'bilinear' (align_corners False) or 'nearest'. */
  resize(x: V, h: number, w: number, mode: 'bilinear' | 'nearest'): V {
    const nc = this.node('Slice', [this.node('Shape', [x.name])[0]!, this.constInt([0]), this.constInt([2]), this.constInt([0])])[0]!;
    const sizes = this.node('Concat', [nc, this.constInt([h, w])], { axis: 0 })[0]!;
    const attrs: Record<string, AttrValue> =
      mode === 'bilinear'
        ? { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' }
        : { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
    const name = this.node('Resize', [x.name, '', '', sizes], attrs)[0]!;
    return { name, shape: [x.shape[0]!, x.shape[1]!, h, w] };
  }

  /** x resized bilinearly to [h, w], or x itself when it has that size (webmtl's resizeTo). */
  resizeTo(x: V, h: number, w: number): V {
    return x.shape[2] === h && x.shape[3] === w ? x : this.resize(x, h, w, 'bilinear');
  }
}
