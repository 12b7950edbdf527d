/**
 * How each backbone reads a published PyTorch checkpoint: a key map per backbone name that turns
 * the checkpoint's parameter names into the backbone's, or drops a key on purpose (the ImageNet
 * classifier, which a dense-prediction backbone does not have). The table is typed over the
 * backbone names, so a new backbone (HRNet, when it exists) adds its entry here and every loader
 * (`model.backbone.pretrained`, `loadPretrained`, `webmtl convert --backbone`) picks it up.
 */

/** One backbone's mapping from checkpoint keys to its own state-dict keys. */
export interface PretrainedKeyMap {
  /** Where the checkpoints this map reads come from (named in messages). */
  readonly source: string;
  /** The backbone's key for checkpoint key `key`, or null to drop it on purpose. */
  map(key: string): string | null;
  /** What the dropped keys are, for messages (e.g. "the ImageNet classifier fc.*"). */
  readonly dropped: string;
}

/**
 * torchvision's ResNets: the names are already ours (see resnet.ts); the classifier `fc.weight`
 * and `fc.bias` are dropped.
 */
const torchvisionResNet: PretrainedKeyMap = {
  source: 'torchvision.models.resnet*',
  map: (key) => (key === 'fc.weight' || key === 'fc.bias' ? null : key),
  dropped: 'the ImageNet classifier fc.*',
};

/**
 * The official HRNet checkpoints (HRNet-Image-Classification, which the survey's hrnet_w18 loads):
 * backbone names are already ours (see hrnet.ts); the ImageNet classification head is dropped.
 */
const officialHRNet: PretrainedKeyMap = {
  source: 'HRNet-Image-Classification hrnet_w18_small_model_v2.pth',
  map: (key) => (/^(incre_modules|downsamp_modules|final_layer|classifier)\./.test(key) ? null : key),
  dropped: 'the ImageNet classification head incre_modules.*, downsamp_modules.*, final_layer.*, classifier.*',
};

/** The backbones that can load pretrained PyTorch weights by name. */
export const PRETRAINED_BACKBONES = ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'hrnet18'] as const;

/** A backbone name with a key map. */
export type PretrainedBackbone = (typeof PRETRAINED_BACKBONES)[number];

/** Backbone name -> key map (typed: a listed name without a map does not compile). */
export const PRETRAINED_KEY_MAPS: { readonly [K in PretrainedBackbone]: PretrainedKeyMap } = {
  resnet18: torchvisionResNet,
  resnet34: torchvisionResNet,
  resnet50: torchvisionResNet,
  resnet101: torchvisionResNet,
  hrnet18: officialHRNet,
};

/** True when `name` has a key map in {@link PRETRAINED_KEY_MAPS}. */
export function isPretrainedBackbone(name: string): name is PretrainedBackbone {
  return Object.hasOwn(PRETRAINED_KEY_MAPS, name);
}
