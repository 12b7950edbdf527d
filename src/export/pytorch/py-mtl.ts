/**
 * The PyTorch side of src/mtl/models: every architecture and its fusion and decoder units, as
 * Python class sources for model.py (see py-nn.ts for the conventions). Every model's
 * `forward(x, auxiliary=False)` returns {task: prediction at the input size}; with auxiliary=True it
 * returns (outputs, auxiliary) where auxiliary maps a task to its deep-supervised predictions
 * (PAD-Net's and PAP-Net's initial one, MTI-Net's four per scale, JTRL's earlier recursion steps), as MultiTaskOutput does.
 */

/** Python class name -> source, for src/mtl/models's architectures and units. */
export const PY_MTL_CLASSES = {
  SharedEncoderModel: `
class SharedEncoderModel(Node):
    def forward(self, x, auxiliary=False):
        h, w = x.shape[2], x.shape[3]
        f = self.backbone(x)
        out = {t: resize_to(self.decoders[t](f), h, w) for t in self.task_names}
        return (out, {}) if auxiliary else out
`,
  SingleTaskModel: `
class SingleTaskModel(Node):
    def forward(self, x, auxiliary=False):
        h, w = x.shape[2], x.shape[3]
        out = {self.task_names[0]: resize_to(self.decoder(self.backbone(x)), h, w)}
        return (out, {}) if auxiliary else out
`,
  PerTaskEncoderModel: `
class PerTaskEncoderModel(Node):
    STAGES = ("layer1", "layer2", "layer3", "layer4")

    def forward(self, x, auxiliary=False):
        h, w = x.shape[2], x.shape[3]
        encoders = [self.backbone[t] for t in self.task_names]
        units = self._modules[self.units_name]

        def fuse(stage, xs):
            return units[stage](xs) if stage in units else xs

        stem = [e.stem(x) for e in encoders]
        xs = fuse("stem", [F.max_pool2d(s, 3, 2, 1) for s in stem])
        levels = []
        for k, name in enumerate(self.STAGES):
            xs = fuse(name, [e.stages()[k](xs[i]) for i, e in enumerate(encoders)])
            levels.append(xs)
        out = {}
        for i, t in enumerate(self.task_names):
            f = {"stem": stem[i], "c1": levels[0][i], "c2": levels[1][i], "c3": levels[2][i], "c4": levels[3][i]}
            out[t] = resize_to(self.heads[t](f), h, w)
        return (out, {}) if auxiliary else out
`,
  CrossStitchUnit: `
class CrossStitchUnit(Node):
    def forward(self, xs):
        # y_i[n, c] = sum_j alpha[i, j, c] x_j[n, c]
        y = torch.einsum("ijc,ncjhw->ncihw", self.alpha, torch.stack(xs, 2))
        return list(y.unbind(2))
`,
  NDDRLayer: `
class NDDRLayer(Node):
    def forward(self, xs):
        y = F.relu(self.bn(self.conv(torch.cat(xs, 1))))
        c = self.channels
        return [y[:, i * c:(i + 1) * c] for i in range(self.num_tasks)]
`,
  MTANModel: `
class MTANModel(Node):
    def forward(self, x, auxiliary=False):
        h, w = x.shape[2], x.shape[3]
        bb = self.backbone
        ub, ut = [], []
        cur = F.max_pool2d(bb.stem(x), 3, 2, 1)
        for stage in bb.stages():
            blocks = list(stage)
            for b in blocks[:-1]:
                cur = b(cur)
            ub.append(cur)
            cur = blocks[-1](cur)
            ut.append(cur)
        out = {}
        for t in self.task_names:
            a = None
            for k in range(4):
                attention = self._modules["attention_%d" % (k + 1)][t]
                mask = attention(ub[k] if a is None else torch.cat([ub[k], a], 1))
                a = mask * ut[k]
                if k < 3:
                    a = self._modules["refine_%d" % (k + 1)](a)
                    if self.downsample[k]:
                        a = F.max_pool2d(a, 2, 2, ceil_mode=True)
            out[t] = resize_to(self.heads[t](a), h, w)
        return (out, {}) if auxiliary else out
`,
  InitialTaskPrediction: `
class InitialTaskPrediction(Node):
    def forward(self, x):
        layers = self._modules[self.features_name]
        classifiers = self._modules[self.classifier_name]
        features, predictions = {}, {}
        for t, layer in layers.items():
            features[t] = layer(x[t] if isinstance(x, dict) else x)
            predictions[t] = classifiers[t](features[t])
        return features, predictions
`,
  SABlock: `
class SABlock(Node):
    def forward(self, x):
        return self.conv(x) * self.attention(x)
`,
  SEBlock: `
class SEBlock(Node):
    def forward(self, x):
        s = self.squeeze(x.mean((2, 3)))
        return x * s.reshape(x.shape[0], x.shape[1], 1, 1)
`,
  MultiTaskDistillation: `
class MultiTaskDistillation(Node):
    def forward(self, features):
        out = {}
        for t in self.tasks:
            y = features[t]
            for s, block in self.self_attention[t].items():
                y = y + block(features[s])
            out[t] = y
        return out
`,
  PADNetModel: `
class PADNetModel(Node):
    def forward(self, x, auxiliary=False):
        h, w = x.shape[2], x.shape[3]
        feats = self.backbone(x)
        fuse = self.sub("fuse")  # HRNet encoders: the four branches fused first
        f = feats["c4"] if fuse is None else fuse(feats)
        features, predictions = self.initial_task_prediction_heads(f)
        distilled = self.multi_modal_distillation(features)
        out = {t: resize_to(self.heads[t](distilled[t]), h, w) for t in self.task_names}
        aux = {t: [resize_to(predictions[t], h, w)] for t in self.task_names}
        return (out, aux) if auxiliary else out
`,
  PAPropagation: `
class PAPropagation(Node):
    def forward(self, features):
        b, c, h, w = features[self.tasks[0]].shape
        hs, ws = -(-h // self.scale), -(-w // self.scale)
        p = hs * ws
        x0 = [resize_to(features[t], hs, ws).reshape(b, c, p) for t in self.tasks]
        # row-normalised similarity of the pixels' feature vectors
        aff = [torch.softmax(torch.matmul(x.transpose(1, 2), x) * (c ** -0.5), -1) for x in x0]
        if len(self.tasks) > 1:
            mix = torch.softmax(self.cross_task, 1)
            aff = list(torch.einsum("ts,sbij->tbij", mix, torch.stack(aff)).unbind(0))
        out = {}
        for i, t in enumerate(self.tasks):
            y = x0[i]
            for _ in range(self.iterations):
                y = self.beta * torch.matmul(y, aff[i].transpose(1, 2)) + (1 - self.beta) * x0[i]
            out[t] = features[t] + resize_to(y.reshape(b, c, hs, ws), h, w)
        return out
`,
  PAPNetModel: `
class PAPNetModel(Node):
    def forward(self, x, auxiliary=False):
        h, w = x.shape[2], x.shape[3]
        feats = self.backbone(x)
        fuse = self.sub("fuse")  # HRNet encoders: the four branches fused first
        f = feats["c4"] if fuse is None else fuse(feats)
        features, predictions = self.initial_task_prediction_heads(f)
        propagated = self.propagation(features)
        out = {t: resize_to(self.heads[t](propagated[t]), h, w) for t in self.task_names}
        aux = {t: [resize_to(predictions[t], h, w)] for t in self.task_names}
        return (out, aux) if auxiliary else out
`,
  TaskAttentiveModule: `
class TaskAttentiveModule(Node):
    def forward(self, b, prev=None):
        own = self.project(b)
        fused = own
        if prev is not None:
            p = resize_to(prev, b.shape[2], b.shape[3])
            a = self.attention(p)
            g = self.balance(torch.cat([p, own], 1))
            attended = a * own
            fused = attended + g * (p - attended)  # g p + (1 - g) a b'
        features = self.refine(fused)
        return features, self.classifier(features)
`,
  JTRLModel: `
class JTRLModel(Node):
    LEVELS = ("c4", "c3", "c2", "c1")

    def forward(self, x, auxiliary=False):
        h, w = x.shape[2], x.shape[3]
        feats = self.backbone(x)
        n = len(self.task_names)
        preds = {t: [] for t in self.task_names}
        prev = None
        for s, step in enumerate(self.steps):
            prev, prediction = step(feats[self.LEVELS[s // n]], prev)
            preds[step.task].append(resize_to(prediction, h, w))
        out = {t: preds[t][-1] for t in self.task_names}
        aux = {t: preds[t][:-1] for t in self.task_names}
        return (out, aux) if auxiliary else out
`,
  FPM: `
class FPM(Node):
    def forward(self, features):
        cat = torch.cat([features[t] for t in self.tasks], 1)
        b, c, h, w = cat.shape
        n = len(self.tasks)
        grouped = (b, c // n, n, h, w)
        mask = torch.softmax(self.non_linear(cat).reshape(grouped), 2)
        attended = (mask * cat.reshape(grouped)).reshape(b, c, h, w)
        shared = self.dimensionality_reduction(attended)
        return {t: self.se[t](shared) + features[t] for t in self.tasks}
`,
  HighResolutionFuse: `
class HighResolutionFuse(Node):
    def forward(self, feats):
        xs = [feats["c1"], feats["c2"], feats["c3"], feats["c4"]] if isinstance(feats, dict) else list(feats)
        h, w = xs[0].shape[2], xs[0].shape[3]
        return self.last_layer(torch.cat([resize_to(x, h, w) for x in xs], 1))
`,
  HighResolutionHead: `
class HighResolutionHead(Node):
    def forward(self, xs):
        if isinstance(xs, dict):  # backbone features: the four stage levels
            xs = [xs["c1"], xs["c2"], xs["c3"], xs["c4"]]
        h, w = xs[0].shape[2], xs[0].shape[3]
        return self.last_layer(torch.cat([resize_to(x, h, w) for x in xs], 1))
`,
  MTINetModel: `
class MTINetModel(Node):
    def forward(self, x, auxiliary=False):
        h, w = x.shape[2], x.shape[3]
        f = self.backbone(x)
        levels = [f["c1"], f["c2"], f["c3"], f["c4"]]
        m = self._modules
        initial = [None, None, None, m["scale_3"](levels[3])]
        for k in (2, 1, 0):
            propagated = m["fpm_scale_%d" % (k + 1)](initial[k + 1][0])
            hk, wk = levels[k].shape[2], levels[k].shape[3]
            inputs = {t: torch.cat([levels[k], resize_to(propagated[t], hk, wk)], 1) for t in self.task_names}
            initial[k] = m["scale_%d" % k](inputs)
        distilled = [m["distillation_scale_%d" % k](initial[k][0]) for k in range(4)]
        out = {t: resize_to(self.heads[t]([d[t] for d in distilled]), h, w) for t in self.task_names}
        aux = {t: [resize_to(s[1][t], h, w) for s in initial] for t in self.task_names}
        return (out, aux) if auxiliary else out
`,
} as const;
