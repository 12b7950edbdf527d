/**
 * The safetensors reader and writer that model.py carries, in plain Python (json, struct, ctypes
 * and torch.frombuffer; no safetensors or numpy package), and the model loader on top of it.
 * Integer tensors load into whatever dtype the module holds (load_state_dict copies), so webmtl's
 * i32 `num_batches_tracked` fills PyTorch's int64 buffer; written files keep torch's dtypes, which
 * webmtl's reader converts.
 */

/** Python source: load_safetensors, save_safetensors, load_weights and load_model. */
export const PY_SAFETENSORS = `
_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}
_NAMES = {v: k for k, v in _DTYPES.items()}


def load_safetensors(path):
    """Reads a safetensors file: ({name: tensor}, metadata). Little-endian, as the format."""
    if sys.byteorder != "little":
        raise RuntimeError("load_safetensors: this reader needs a little-endian machine")
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError("%s: header length %d runs past the end of the file" % (path, n))
    header = json.loads(data[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", None) or {}
    base = 8 + n
    tensors = {}
    for name, e in header.items():
        start, end = e["data_offsets"]
        dtype = _DTYPES.get(e["dtype"])
        if dtype is None:
            raise ValueError("%s: tensor %s has unsupported dtype %s" % (path, name, e["dtype"]))
        if not 0 <= start <= end <= len(data) - base:
            raise ValueError("%s: tensor %s lies outside the file" % (path, name))
        count = 1
        for d in e["shape"]:
            count *= d
        if end - start != count * torch.tensor([], dtype=dtype).element_size():
            raise ValueError("%s: tensor %s has %d bytes for shape %s" % (path, name, end - start, e["shape"]))
        if count == 0:
            t = torch.zeros(e["shape"], dtype=dtype)
        else:
            t = torch.frombuffer(bytearray(data[base + start:base + end]), dtype=dtype).reshape(e["shape"])
        tensors[name] = t
    return tensors, metadata


def save_safetensors(tensors, path, metadata=None):
    """Writes {name: tensor} (and string metadata) as a safetensors file."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        nbytes = t.numel() * t.element_size()
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + nbytes]}
        blobs.append(ctypes.string_at(t.data_ptr(), nbytes) if nbytes else b"")
        offset += nbytes
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_weights(model, path, prefix=""):
    """Loads a safetensors state dict into model (strict); prefix selects e.g. "model." keys."""
    tensors, _ = load_safetensors(path)
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    model.load_state_dict(state, strict=True)
    return model


def load_model(path=None):
    """The exported architecture, with the weights at path (default: weights.safetensors beside this file)."""
    model = build_model()
    if path is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.safetensors")
    return load_weights(model, path)
`;
