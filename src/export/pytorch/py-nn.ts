/**
 * The PyTorch side of src/nn's composite modules (ResNet and its blocks, HRNet, the dense-prediction heads),
 * as Python class sources that model.py includes when the exported model uses them. Each class is a
 * `Node` (see PY_NODE): its children arrive built, under webmtl's names, so the state dict keys are
 * webmtl's by construction; the class holds only the forward, written to match the TypeScript one
 * op for op (interpolation modes, align_corners, pooling and padding as there).
 */

/**
 * The base of every generated class: registers the given (name, module) children in order (None
 * for an absent optional child), creates the listed parameters and buffers (values come from the
 * weights file), and stores plain attributes. `head_input` picks a head's level from backbone
 * features, as src/nn/heads/common.ts's headInput.
 */
export const PY_NODE = `
class Node(nn.Module):
    """A module whose children, parameters and attributes are given by the exporter."""

    def __init__(self, children=(), params=(), buffers=(), **attrs):
        super().__init__()
        for name, child in children:
            self.add_module(name, child)
        for name, shape in params:
            self.register_parameter(name, nn.Parameter(torch.zeros(shape)))
        for name, shape in buffers:
            self.register_buffer(name, torch.zeros(shape))
        for key, value in attrs.items():
            setattr(self, key, value)

    def sub(self, name):
        return self._modules.get(name)


def head_input(x, level):
    return x[level] if isinstance(x, dict) else x


def resize_to(y, h, w):
    if y.shape[2] == h and y.shape[3] == w:
        return y
    return F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
`;

/** Python class name -> source, for src/nn's composite modules. */
export const PY_NN_CLASSES = {
  BasicBlock: `
class BasicBlock(Node):
    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        ds = self.sub("downsample")
        return F.relu(out + (x if ds is None else ds(x)))
`,
  Bottleneck: `
class Bottleneck(Node):
    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        ds = self.sub("downsample")
        return F.relu(out + (x if ds is None else ds(x)))
`,
  ResNet: `
class ResNet(Node):
    def stem(self, x):
        return F.relu(self.bn1(self.conv1(x)))

    def stages(self):
        return [self.layer1, self.layer2, self.layer3, self.layer4]

    def forward(self, x):
        stem = self.stem(x)
        c1 = self.layer1(F.max_pool2d(stem, 3, 2, 1))
        c2 = self.layer2(c1)
        c3 = self.layer3(c2)
        c4 = self.layer4(c3)
        return {"stem": stem, "c1": c1, "c2": c2, "c3": c3, "c4": c4}
`,
  ModuleSlots: `
class ModuleSlots(Node):
    def item(self, i):
        return self._modules.get(str(i))
`,
  HighResolutionModule: `
class HighResolutionModule(Node):
    def forward(self, xs):
        b = [self.branches.item(i)(x) for i, x in enumerate(xs)]
        out = []
        for i in range(len(b)):
            row = self.fuse_layers.item(i)
            h, w = b[i].shape[2], b[i].shape[3]
            y = None
            for j in range(len(b)):
                if j == i:
                    t = b[j]
                else:
                    t = row.item(j)(b[j])
                    if j > i:
                        t = F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)
                y = t if y is None else y + t
            out.append(F.relu(y))
        return out
`,
  HRNet: `
class HRNet(Node):
    def stem(self, x):
        return F.relu(self.bn1(self.conv1(x)))

    def forward(self, x):
        stem = self.stem(x)
        xs = [self.layer1(F.relu(self.bn2(self.conv2(stem))))]
        for k in range(len(self.stage_sizes)):
            t = self._modules["transition%d" % (k + 1)]
            nxt = []
            for i in range(t.size):
                tr = t.item(i)
                nxt.append(xs[i] if tr is None else tr(xs[i] if i < len(xs) else xs[-1]))
            xs = nxt
            stage = self._modules["stage%d" % (k + 2)]
            for m in range(self.stage_sizes[k]):
                xs = stage.item(m)(xs)
        return {"stem": stem, "c1": xs[0], "c2": xs[1], "c3": xs[2], "c4": xs[3]}
`,
  ConvHead: `
class ConvHead(Node):
    def forward(self, x):
        m = self._modules
        return m["4"](F.relu(m["1"](m["0"](head_input(x, self.level)))))
`,
  ASPPPooling: `
class ASPPPooling(Node):
    def forward(self, x):
        m = self._modules
        y = F.relu(m["2"](m["1"](F.adaptive_avg_pool2d(x, 1))))
        return F.interpolate(y, size=(x.shape[2], x.shape[3]), mode="bilinear", align_corners=False)
`,
  ASPP: `
class ASPP(Node):
    def forward(self, x):
        return self.project(torch.cat([b(x) for b in self.convs], 1))
`,
  ASPPHead: `
class ASPPHead(Node):
    def forward(self, x):
        m = self._modules
        y = m["0"](head_input(x, self.level))
        return m["4"](F.relu(m["2"](m["1"](y))))
`,
  FeaturePyramidNetwork: `
class FeaturePyramidNetwork(Node):
    def forward(self, xs):
        n = len(xs)
        out = [None] * n
        last = self.inner_blocks[n - 1](xs[n - 1])
        out[n - 1] = self.layer_blocks[n - 1](last)
        for i in range(n - 2, -1, -1):
            size = (xs[i].shape[2], xs[i].shape[3])
            if self.top_down_mode == "bilinear":
                top = F.interpolate(last, size=size, mode="bilinear", align_corners=False)
            else:
                top = F.interpolate(last, size=size, mode="nearest")
            last = self.inner_blocks[i](xs[i]) + top
            out[i] = self.layer_blocks[i](last)
        return out
`,
  FPNHead: `
class FPNHead(Node):
    def forward(self, features):
        xs = [features[l] for l in self.levels] if isinstance(features, dict) else list(features)
        pyramid = self.fpn(xs)
        fused = pyramid[0]
        size = (fused.shape[2], fused.shape[3])
        for p in pyramid[1:]:
            if self.fuse_mode == "bilinear":
                fused = fused + F.interpolate(p, size=size, mode="bilinear", align_corners=False)
            else:
                fused = fused + F.interpolate(p, size=size, mode="nearest")
        return self.head(fused)
`,
} as const;
