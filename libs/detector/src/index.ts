export { createDetector, GRAD_CLIP_MAX_NORM, type Detector, type DetectorOptions, type LossTensors, type LossValues, type TrainBatch, type TrainStepOptions } from './detector.js';
export { microBatches, planTrainStep, trainStepBytes, trainStepMemory, TRAIN_MEMORY_MODEL, type PlanOptions, type TrainStepMemory, type TrainStepPlan } from './memory.js';
export { applyFidelity, scaleChannels, FULL_FIDELITY, type Fidelity } from './fidelity.js';
export { GraphExecutor, standardize, NORM_EPS, WS_EPS, type GraphOutputs, type TrainingActivations } from './executor.js';
export { convolve, groupedConv2d, GROUPED_CONV_IMPLEMENTATION, type ConvSpec, type FusedActivation } from './conv.js';
export { ParamStore, paramPrefix, PRIOR_PROB, WeightShapeError, type Param, type WeightMap, type WeightTensor } from './params.js';
export {
  assignAnchors, baseAnchors, decodeBox, encodeBox, gridAnchors, iou,
  RETINA_ANCHOR_CONFIG, RETINA_ASSIGNER, RETINA_BOX_CODER,
  type AnchorConfig, type AssignerConfig, type BoxCoderConfig, type FeatureLevel,
} from './boxes.js';
export { decodeBoxes, giouLossSum, sigmoidFocalLossSum, smoothL1Sum, RETINA_FOCAL, type FocalLossConfig } from './losses.js';
export {
  ANCHOR_SCALE_CANDIDATES, fitAnchorScale, RetinaNet, RETINANET_DEFAULTS,
  type BoxLossKind, type RetinaNetConfig, type RetinaNetTestConfig, type RetinaTargets,
} from './retinanet.js';
export { fromTorchvisionName, toTorchvisionName } from './torchvision.js';
export { roiLevel, detach, type RoiOutputs } from './executor.js';
export { deformConv2d, type DeformSpec } from './deform.js';
export { Rpn, RPN_ASSIGNER, RPN_FPN_DEFAULTS, RPN_C4_DEFAULTS, levelBaseAnchors, proposeImage, type ProposalConfig, type ProposalNetwork, type RpnConfig } from './rpn.js';
export { GaRpn, GA_RPN_DEFAULTS, type GaRpnConfig } from './ga-rpn.js';
export { decodeDistances, Fcos, FCOS_DEFAULTS, type FcosConfig, type FcosTargets, type FcosTestConfig } from './fcos.js';
export { RcnnHead, FASTER_RCNN_DEFAULTS, CASCADE_STAGES, cascadeDefaults, type RcnnConfig, type RcnnStageConfig } from './rcnn.js';
export { disposeOutputs, TwoStage, twoStageConfig, type TwoStageConfig, type TwoStageOptions } from './two-stage.js';
export { type Detections, type DetectorHead, type HeadTrainingElements, type ImageTargets, type LossPass } from './head.js';
export { DETECTOR_HEADS, type HeadBuildContext, type HeadBuilder } from './heads.js';
export { batchedNms } from './dense-head.js';
