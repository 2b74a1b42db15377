#!/usr/bin/python3
"""Independent reference counts for libs/flops (run with Debian's python3-torch 1.13 /
python3-torchvision 0.14: `/usr/bin/python3 libs/flops/reference/torchvision_flops.py`).

Counts multiply-adds of nn.Conv2d, torchvision.ops.DeformConv2d and nn.Linear with forward hooks on
real forward passes (fvcore's convention: nothing for norms, activations, pooling, bias, add,
interpolate, RoIAlign) and parameters as sum(p.numel()).

1. torchvision's classification models at 224x224, as published.
2. Modular backbones (other widths, other block strings) assembled from torchvision's own blocks
   (resnet.BasicBlock / Bottleneck, mobilenetv2.InvertedResidual), and MobileNetV2 base 48 as
   torchvision's mobilenet_v2(width_mult=0.75).
3. Whole detectors from plain torch.nn layers following mmdetection's default FPN, RPNHead,
   GARPNHead, RetinaHead, Shared2FCBBoxHead and the C4 shared head; the RoI heads are run on one
   RoI, so their count is per proposal.
4. torchvision's own one-stage detectors (retinanet_resnet50_fpn, fcos_resnet50_fpn: P3-P7, P6
   and P7 from P5, 91 classes, no weights so BatchNorm2d), backbone and head run on one 800x1344
   image past the transform (which would resize it).

Prints one JSON object; the TypeScript tests paste its numbers.
"""
import json
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models._utils import _make_divisible
from torchvision.models.mobilenetv2 import InvertedResidual
from torchvision.models.resnet import BasicBlock, Bottleneck
from torchvision.ops import DeformConv2d, roi_align
from torchvision.ops.misc import Conv2dNormActivation

torch.set_grad_enabled(False)


class Counter:
    """Multiply-adds per bucket; bucket(name) maps a layer's qualified name to its bucket."""

    def __init__(self, model, bucket=lambda name: ''):
        self.macs = {}
        self.handles = []
        for name, mod in model.named_modules():
            if isinstance(mod, (nn.Conv2d, DeformConv2d, nn.Linear)):
                self.handles.append(mod.register_forward_hook(self.hook(bucket(name))))

    def hook(self, bucket):
        def fn(mod, inputs, output):
            if isinstance(mod, nn.Linear):
                macs = output.numel() * mod.in_features
            else:  # Conv2d / DeformConv2d: every output element costs in/groups * kh * kw
                macs = output.numel() * mod.weight[0].numel()
            self.macs[bucket] = self.macs.get(bucket, 0) + macs
        return fn

    def total(self):
        return sum(self.macs.values())

    def close(self):
        for h in self.handles:
            h.remove()


def params(module):
    return sum(p.numel() for p in module.parameters())


def classify(model, size=224):
    model.eval()
    c = Counter(model)
    model(torch.zeros(1, 3, size, size))
    c.close()
    return {'multiplyAdds': c.total(), 'params': params(model)}


# ---- Backbones from block strings, with torchvision's blocks ----------------------------------------

GROUPS = {'resnext50_32x4d': (32, 4), 'resnext101_32x8d': (32, 8)}
LADDER = [24, 32, 64, 96, 160, 320]


class Backbone(nn.Module):
    """stem (-> C1), stage1..stage4 (-> C2..C5); only stages up to `last_stage` are built."""

    def __init__(self, kind, base, blocks, last_stage=4):
        super().__init__()
        self.kind, self.base, self.strings = kind, base, blocks.split('-')
        self.mobile = kind == 'mobilenet_v2'
        if self.mobile:
            wm = base / 64
            c0 = _make_divisible(32 * wm, 8)
            self.stem = nn.Sequential(
                Conv2dNormActivation(3, c0, stride=2, norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU6),
                InvertedResidual(c0, _make_divisible(16 * wm, 8), 1, 1))
            self.c1_index = None
        else:
            self.stem = nn.Sequential(nn.Conv2d(3, base, 7, 2, 3, bias=False), nn.BatchNorm2d(base), nn.ReLU(inplace=True))
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.channels = {1: self._c1()}
        self.stages = nn.ModuleList()
        for s in range(4):
            stage, out = self.make_stage(s, self.channels[s + 1])
            self.channels[s + 2] = out
            if s < last_stage:
                self.add_module(f'stage{s + 1}', stage)

    def _c1(self):
        return _make_divisible(16 * self.base / 64, 8) if self.mobile else self.base

    def make_stage(self, s, in_ch):
        """A fresh nn.Sequential for stage s (0-based) with input channels in_ch; also its output width."""
        twos = sum(st.count('2') for st in self.strings[:s])
        layers = []
        if self.mobile:
            wm = self.base / 64
            rung = twos - 1
            for i, ch in enumerate(self.strings[s]):
                rung += ch == '2'
                out = _make_divisible((16 if rung < 0 else LADDER[rung]) * wm, 8)
                layers.append(InvertedResidual(in_ch, out, 2 if i == 0 else 1, 6))
                in_ch = out
            return nn.Sequential(*layers), in_ch
        bottleneck = self.kind not in ('resnet18', 'resnet34')
        block = Bottleneck if bottleneck else BasicBlock
        groups, wpg = GROUPS.get(self.kind, (1, 64))
        planes = self.base * 2 ** twos
        for i, ch in enumerate(self.strings[s]):
            if ch == '2':
                planes *= 2
            stride = 2 if i == 0 and s > 0 else 1
            out = planes * block.expansion
            ds = None
            if stride != 1 or in_ch != out:
                ds = nn.Sequential(nn.Conv2d(in_ch, out, 1, stride, bias=False), nn.BatchNorm2d(out))
            if bottleneck:
                layers.append(Bottleneck(in_ch, planes, stride, ds, groups=groups, base_width=wpg))
            else:
                layers.append(BasicBlock(in_ch, planes, stride, ds))
            in_ch = out
        return nn.Sequential(*layers), in_ch

    def forward(self, x, last_stage=4):
        x = self.stem(x)
        feats = {1: x}
        if not self.mobile:
            x = self.maxpool(x)
        for s in range(last_stage):
            x = getattr(self, f'stage{s + 1}')(x)
            feats[s + 2] = x
        return feats


class Classifier(nn.Module):
    def __init__(self, kind, base, blocks, classes=1000):
        super().__init__()
        self.backbone = Backbone(kind, base, blocks)
        c = self.backbone.channels[5]
        layers = []
        if kind == 'mobilenet_v2':
            last = _make_divisible(1280 * max(1.0, base / 64), 8)
            layers.append(Conv2dNormActivation(c, last, kernel_size=1, norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU6))
            c = last
        self.head = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes))

    def forward(self, x):
        return self.head(self.backbone(x)[5])


# ---- Detectors (mmdetection's defaults, plain torch.nn) -----------------------------------------------

class FPN(nn.Module):
    def __init__(self, in_ch, lo, hi, c):
        super().__init__()
        self.lo, self.hi, self.top = lo, hi, min(hi, 5)
        self.lateral = nn.ModuleDict({str(l): nn.Conv2d(in_ch[l], c, 1) for l in range(lo, self.top + 1)})
        self.fpn = nn.ModuleDict({str(l): nn.Conv2d(c, c, 3, padding=1) for l in range(lo, self.top + 1)})
        if hi == 6:  # add_extra_convs='on_input'
            self.extra = nn.Conv2d(in_ch[5], c, 3, stride=2, padding=1)

    def forward(self, feats):
        lat = {l: self.lateral[str(l)](feats[l]) for l in range(self.lo, self.top + 1)}
        for l in range(self.top, self.lo, -1):
            lat[l - 1] = lat[l - 1] + F.interpolate(lat[l], size=lat[l - 1].shape[-2:], mode='nearest')
        out = {l: self.fpn[str(l)](lat[l]) for l in lat}
        if self.hi == 6:
            out[6] = self.extra(feats[5])
        return out


class RPNHead(nn.Module):
    def __init__(self, c, anchors):
        super().__init__()
        self.rpn_conv = nn.Conv2d(c, c, 3, padding=1)
        self.rpn_cls = nn.Conv2d(c, anchors, 1)
        self.rpn_reg = nn.Conv2d(c, anchors * 4, 1)

    def forward(self, feats):
        for x in feats.values():
            x = F.relu(self.rpn_conv(x))
            self.rpn_cls(x), self.rpn_reg(x)


class GARPNHead(nn.Module):
    def __init__(self, c, deform_groups=4):
        super().__init__()
        self.rpn_conv = nn.Conv2d(c, c, 3, padding=1)
        self.conv_loc = nn.Conv2d(c, 1, 1)
        self.conv_shape = nn.Conv2d(c, 2, 1)
        self.conv_offset = nn.Conv2d(2, deform_groups * 3 * 3 * 2, 1, bias=False)
        self.conv_adaption = DeformConv2d(c, c, 3, padding=1, bias=False)
        self.conv_cls = nn.Conv2d(c, 1, 1)
        self.conv_reg = nn.Conv2d(c, 4, 1)

    def forward(self, feats):
        for x in feats.values():
            x = F.relu(self.rpn_conv(x))
            self.conv_loc(x)
            shape = self.conv_shape(x)
            x = F.relu(self.conv_adaption(x, self.conv_offset(shape)))
            self.conv_cls(x), self.conv_reg(x)


class RetinaHead(nn.Module):
    def __init__(self, c_in, c, classes, anchors=9):
        super().__init__()
        self.cls_convs = nn.ModuleList([nn.Conv2d(c_in if i == 0 else c, c, 3, padding=1) for i in range(4)])
        self.reg_convs = nn.ModuleList([nn.Conv2d(c_in if i == 0 else c, c, 3, padding=1) for i in range(4)])
        self.retina_cls = nn.Conv2d(c, anchors * classes, 3, padding=1)
        self.retina_reg = nn.Conv2d(c, anchors * 4, 3, padding=1)

    def forward(self, feats):
        for x in feats.values():
            a = b = x
            for conv in self.cls_convs:
                a = F.relu(conv(a))
            for conv in self.reg_convs:
                b = F.relu(conv(b))
            self.retina_cls(a), self.retina_reg(b)


def map_level(box, levels, finest_scale=56):
    """mmdetection SingleRoIExtractor.map_roi_levels."""
    scale = math.sqrt((box[2] - box[0]) * (box[3] - box[1]))
    return min(max(math.floor(math.log2(scale / finest_scale + 1e-6)), 0), len(levels) - 1)


class FCBBoxHead(nn.Module):
    """mmdetection Shared2FCBBoxHead after RoIAlign 7x7 over P_lo..P_min(hi,5)."""

    def __init__(self, c, fc, classes, agnostic):
        super().__init__()
        self.fc1 = nn.Linear(c * 49, fc)
        self.fc2 = nn.Linear(fc, fc)
        self.fc_cls = nn.Linear(fc, classes + 1)
        self.fc_reg = nn.Linear(fc, 4 if agnostic else 4 * classes)

    def forward(self, feats, box):
        levels = sorted(l for l in feats if l <= 5)
        l = levels[map_level(box, levels)]
        x = roi_align(feats[l], [torch.tensor([box], dtype=torch.float32)], 7, 1 / 2 ** l, 0, True)
        x = F.relu(self.fc2(F.relu(self.fc1(x.flatten(1)))))
        self.fc_cls(x), self.fc_reg(x)


class C4BBoxHead(nn.Module):
    """RoIAlign 14x14 on C4, a copy of backbone stage 4 (ResLayer shared head), avg pool, fc cls/reg."""

    def __init__(self, backbone, classes, agnostic):
        super().__init__()
        self.shared_head, out = backbone.make_stage(3, backbone.channels[4])
        self.fc_cls = nn.Linear(out, classes + 1)
        self.fc_reg = nn.Linear(out, 4 if agnostic else 4 * classes)

    def forward(self, feats, box):
        x = roi_align(feats[4], [torch.tensor([box], dtype=torch.float32)], 14, 1 / 16, 0, True)
        x = F.adaptive_avg_pool2d(self.shared_head(x), 1).flatten(1)
        self.fc_cls(x), self.fc_reg(x)


class Detector(nn.Module):
    def __init__(self, d, classes=80):
        super().__init__()
        bb, neck, head = d['backbone'], d['neck'], d['head']
        c4 = neck['kind'] == 'c4'
        self.last_stage = 3 if c4 else min(neck['endLevel'], 5) - 1
        self.backbone = Backbone(bb['kind'], bb['baseChannels'], bb['blocks'], self.last_stage)
        ch = self.backbone.channels
        if c4:
            self.levels, f = [4], ch[4]
        else:
            self.levels, f = list(range(neck['startLevel'], neck['endLevel'] + 1)), neck['channels']
            self.neck = FPN(ch, neck['startLevel'], neck['endLevel'], f)
        if d['rpn'] == 'rpn':
            self.rpn = RPNHead(f, 15 if c4 else 3)
        elif d['rpn'] == 'guided_anchoring':
            self.rpn = GARPNHead(f)
        if head['kind'] == 'retinanet':
            self.head = RetinaHead(f, head['channels'], classes)
        else:
            agnostic = head['kind'] == 'cascade_rcnn'
            self.head = nn.ModuleList([
                C4BBoxHead(self.backbone, classes, agnostic) if c4 else FCBBoxHead(f, 4 * head['channels'], classes, agnostic)
                for _ in range(head['stages'])])
        self.c4 = c4

    def forward(self, image):
        feats = self.backbone(image, self.last_stage)
        feats = {4: feats[4]} if self.c4 else self.neck(feats)
        if hasattr(self, 'rpn'):
            self.rpn(feats)
        if isinstance(self.head, RetinaHead):
            self.head(feats)
        return feats


def module_of(name):
    """Our per-module breakdown's names: backbone.stem|stageN, neck, rpn, head, head.stageN."""
    parts = name.split('.')
    if parts[0] == 'backbone':
        return 'backbone.' + parts[1]
    if parts[0] == 'head' and parts[1].isdigit():
        return f'head.stage{int(parts[1]) + 1}'
    return parts[0]


def detect(d):
    model = Detector(d).eval()
    counter = Counter(model, module_of)
    feats = model(torch.zeros(1, 3, d['input']['heightPx'], d['input']['widthPx']))
    per_image = counter.total()
    per_roi = []
    if isinstance(model.head, nn.ModuleList):
        for stage in model.head:  # one RoI per stage: per-proposal multiply-adds
            before = counter.total()
            stage(feats, [8.0, 8.0, 120.0, 100.0])
            per_roi.append(counter.total() - before)
    counter.close()
    module_params = {}
    for name, child in model.named_children():
        if name == 'backbone':
            module_params['backbone.stem'] = params(child.stem)
            for s in range(model.last_stage):
                module_params[f'backbone.stage{s + 1}'] = params(getattr(child, f'stage{s + 1}'))
        elif name == 'head' and isinstance(child, nn.ModuleList):
            for i, stage in enumerate(child):
                module_params[f'head.stage{i + 1}'] = params(stage)
        else:
            module_params[name] = params(child)
    return {
        'perImageMultiplyAdds': per_image,
        'perProposalMultiplyAdds': sum(per_roi),
        'perStagePerProposal': per_roi,
        'params': params(model),
        # per image, or per proposal for head.stageN
        'moduleMultiplyAdds': counter.macs,
        'moduleParams': module_params,
    }


def arch(kind, blocks, neck, rpn, head, stages, head_ch, w, h, base=64):
    return {'backbone': {'kind': kind, 'baseChannels': base, 'blocks': blocks}, 'neck': neck, 'rpn': rpn,
            'head': {'kind': head, 'stages': stages, 'channels': head_ch}, 'input': {'widthPx': w, 'heightPx': h}}


STD = {
    'resnet18': '11-21-21-21',
    'resnet50': '111-2111-211111-211',
    'resnext50_32x4d': '111-2111-211111-211',
    'mobilenet_v2': '21-211-2111211-2112',
}


def fpn(lo, hi, c):
    return {'kind': 'fpn', 'startLevel': lo, 'endLevel': hi, 'channels': c}


DETECTORS = {
    'retinanet_r50_fpn2-6_1333x800': arch('resnet50', STD['resnet50'], fpn(2, 6, 256), 'none', 'retinanet', 0, 256, 1333, 800),
    'faster_r50_fpn2-6_1333x800': arch('resnet50', STD['resnet50'], fpn(2, 6, 256), 'rpn', 'faster_rcnn', 1, 256, 1333, 800),
    'faster_ga_r18b48_fpn3-5_800x600': arch('resnet18', '12-211-21-2', fpn(3, 5, 128), 'guided_anchoring', 'faster_rcnn', 1, 128, 800, 600, base=48),
    'faster_r50_c4_800x600': arch('resnet50', STD['resnet50'], {'kind': 'c4'}, 'rpn', 'faster_rcnn', 1, 256, 800, 600),
    'cascade3_ga_mbv2b48_fpn1-6_1080x720': arch('mobilenet_v2', STD['mobilenet_v2'], fpn(1, 6, 96), 'guided_anchoring', 'cascade_rcnn', 3, 160, 1080, 720, base=48),
    'cascade2_ga_x50_c4_512x512': arch('resnext50_32x4d', STD['resnext50_32x4d'], {'kind': 'c4'}, 'guided_anchoring', 'cascade_rcnn', 2, 256, 512, 512),
    'retinanet_mbv2_c4_512x512': arch('mobilenet_v2', STD['mobilenet_v2'], {'kind': 'c4'}, 'none', 'retinanet', 0, 128, 512, 512),
}

MODULAR = {
    # (kind, base, blocks)
    'resnet50_b48_1211-2111-21121-21': ('resnet50', 48, '1211-2111-21121-21'),
    'resnext50_32x4d_b80_11-211-2111-21': ('resnext50_32x4d', 80, '11-211-2111-21'),
    'resnet18_b32_2-21-2111-211': ('resnet18', 32, '2-21-2111-211'),
    # stages starting with '1': stride 2 at the same width needs a projection shortcut
    'resnet34_b64_11-12-111-1': ('resnet34', 64, '11-12-111-1'),
    'resnext101_32x8d_b32_1-1211-1-12': ('resnext101_32x8d', 32, '1-1211-1-12'),
    'mobilenet_v2_b48_21-211-2111211-2112': ('mobilenet_v2', 48, STD['mobilenet_v2']),
    'mobilenet_v2_b96_2-2121-21211-2111': ('mobilenet_v2', 96, '2-2121-21211-2111'),
}


def tv_module_of(name):
    """torchvision detector names -> our per-module breakdown's."""
    parts = name.split('.')
    if parts[0] == 'backbone' and parts[1] == 'body':
        layer = parts[2]
        return f'backbone.stage{layer[-1]}' if layer.startswith('layer') else 'backbone.stem'
    return 'neck' if parts[0] == 'backbone' else parts[0]


def torchvision_detector(builder, height=800, width=1344):
    model = builder(weights=None, weights_backbone=None).eval()
    counter = Counter(model, tv_module_of)
    feats = model.backbone(torch.zeros(1, 3, height, width))
    model.head(list(feats.values()))
    counter.close()
    module_params = {}
    for name, p in model.named_parameters():
        key = tv_module_of(name)
        module_params[key] = module_params.get(key, 0) + p.numel()
    return {
        'multiplyAdds': counter.total(),
        'params': params(model),
        'levels': {k: list(v.shape[1:]) for k, v in feats.items()},
        'moduleMultiplyAdds': counter.macs,
        'moduleParams': module_params,
    }


def main():
    out = {'torch': torch.__version__, 'torchvision': torchvision.__version__}
    tv = {}
    for name in ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnext50_32x4d', 'resnext101_32x8d', 'mobilenet_v2']:
        tv[name] = classify(getattr(torchvision.models, name)(weights=None))
    out['torchvision224'] = tv
    # Our block-string builder reproduces torchvision's model (checks the builder, not the TS).
    assert classify(Classifier('resnet50', 64, STD['resnet50'])) == tv['resnet50']
    assert classify(Classifier('mobilenet_v2', 64, STD['mobilenet_v2'])) == tv['mobilenet_v2']
    # MobileNetV2 base 48 is torchvision's width_mult=0.75.
    mb48 = classify(torchvision.models.mobilenet_v2(weights=None, width_mult=0.75))
    assert classify(Classifier('mobilenet_v2', 48, STD['mobilenet_v2'])) == mb48
    out['modular224'] = {name: classify(Classifier(*spec)) for name, spec in MODULAR.items()}
    out['detectors'] = {name: detect(d) for name, d in DETECTORS.items()}
    out['detectorArchs'] = DETECTORS
    det = torchvision.models.detection
    out['torchvisionDetectors800x1344'] = {
        'retinanet_resnet50_fpn': torchvision_detector(det.retinanet_resnet50_fpn),
        'fcos_resnet50_fpn': torchvision_detector(det.fcos_resnet50_fpn),
    }
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == '__main__':
    main()
