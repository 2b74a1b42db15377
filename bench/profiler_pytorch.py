#!/usr/bin/python3
"""PyTorch peer of bench/profiler.ts: CPU inference latency of the same networks, timed with the
same protocol as the profiler (warm up until three iterations lie within 10% of their median, then
rounds of N iterations until a round's CV < 2% or the time limit; report the p50 of every round's
iterations).

Run by bench/profiler.ts as a worker, so that its measurements interleave with the profiler's in
time (on a shared VM the machine's speed drifts by 10-20% over minutes; measuring all of one side and
then all of the other made single ratios move by 30% between runs). Debian python3-torch 1.13,
python3-torchvision 0.14. One JSON argument:
  {"threads": 2, "iterations": 10, "max_seconds": 8, "models": [...]}
prints {"torch": version, "threads": n} once ready, then for each line {"name": ..., "rebuild": bool,
"max_seconds"?: s} on stdin times that model (built once and kept, or built afresh with "rebuild";
for "max_seconds" if given, else the argument's) and prints
{"name", "p50", "cv"}. Models:
  {"name", "kind": "classification", "torchvision": "resnet18", "size": [H, W]}
    torchvision's own model (eval mode, batch norm), num_classes 1000.
  {"name", "kind": "detection", "backbone": "resnet18"|..., "size": [H, W], "levels": [3, 4, 5],
   "extra_p6": true, "fpn_channels": 256, "head_channels": 256, "num_classes": 80}
    RetinaNet as libs/arch lowers it: torchvision backbone up to C5, torchvision's
    FeaturePyramidNetwork (lateral 1x1, nearest top-down, 3x3 outputs; = mmdetection FPN), P6 as a
    3x3 stride-2 conv on C5, mmdetection's RetinaHead (two 4-conv ReLU towers shared over levels, 9
    anchors, weights N(0, 0.01), classification bias at prior 0.01), and mmdetection's test-time
    decoding (per level top 1000 over score > 0.05, delta-xywh decode, class-wise NMS 0.5, 100 kept).
"""
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.ops import FeaturePyramidNetwork, batched_nms

torch.set_grad_enabled(False)


def timed(fn, iterations, max_seconds):
    start = time.perf_counter()
    warm = []
    while len(warm) < 30:
        t0 = time.perf_counter()
        fn()
        warm.append((time.perf_counter() - t0) * 1000)
        if len(warm) >= 3:
            last = sorted(warm[-3:])
            if all(abs(t - last[1]) <= 0.1 * last[1] for t in last):
                break
        if len(warm) >= 2 and time.perf_counter() - start > max_seconds / 2:
            break
    every = []
    while True:
        times = []
        for _ in range(iterations):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
        every += times
        mean = statistics.fmean(times)
        cv = statistics.stdev(times) / mean if len(times) > 1 else 0.0
        if cv < 0.02 or time.perf_counter() - start >= max_seconds:
            # As the profiler: statistics over every round's iterations, the stop rule on the last round.
            return statistics.median(every), statistics.stdev(every) / statistics.fmean(every) if len(every) > 1 else 0.0


class P6(nn.Module):
    def __init__(self, c5, channels):
        super().__init__()
        self.conv = nn.Conv2d(c5, channels, 3, 2, 1)

    def forward(self, c5):
        return self.conv(c5)


class RetinaHead(nn.Module):
    def __init__(self, in_channels, channels, num_classes, anchors=9):
        super().__init__()

        def tower():
            layers, c = [], in_channels
            for _ in range(4):
                layers += [nn.Conv2d(c, channels, 3, 1, 1), nn.ReLU(inplace=True)]
                c = channels
            return nn.Sequential(*layers)

        self.cls_tower, self.reg_tower = tower(), tower()
        self.cls = nn.Conv2d(channels, anchors * num_classes, 3, 1, 1)
        self.reg = nn.Conv2d(channels, anchors * 4, 3, 1, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)
        nn.init.constant_(self.cls.bias, -math.log((1 - 0.01) / 0.01))

    def forward(self, features):
        return [(self.cls(self.cls_tower(f)), self.reg(self.reg_tower(f))) for f in features]


def anchors_for(level, h, w):
    """mmdetection AnchorGenerator for RetinaNet: octave base scale 4, 3 scales, ratios 0.5, 1, 2."""
    stride = 2 ** level
    base = []
    for ratio in (0.5, 1.0, 2.0):
        hr = math.sqrt(ratio)
        wr = 1 / hr
        for scale in (2 ** 0, 2 ** (1 / 3), 2 ** (2 / 3)):
            size = 4 * stride * scale
            ws, hs = size * wr, size * hr
            base.append([-ws / 2, -hs / 2, ws / 2, hs / 2])
    base = torch.tensor(base)
    ys, xs = torch.meshgrid(torch.arange(h) * stride, torch.arange(w) * stride, indexing='ij')
    shifts = torch.stack([xs, ys, xs, ys], -1).reshape(-1, 1, 4).float()
    return (shifts + base.view(1, -1, 4)).reshape(-1, 4)


def decode(anchors, deltas, height, width, clip=math.log(1000 / 16)):
    px = (anchors[:, 0] + anchors[:, 2]) * 0.5
    py = (anchors[:, 1] + anchors[:, 3]) * 0.5
    pw = anchors[:, 2] - anchors[:, 0]
    ph = anchors[:, 3] - anchors[:, 1]
    dx, dy = deltas[:, 0], deltas[:, 1]
    dw, dh = deltas[:, 2].clamp(-clip, clip), deltas[:, 3].clamp(-clip, clip)
    cx, cy = px + dx * pw, py + dy * ph
    w, h = pw * dw.exp(), ph * dh.exp()
    boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
    return boxes


class MobileNetFeatures(nn.Module):
    """torchvision mobilenet_v2 features without the last 1x1 (1280) conv; the last map of each stride."""

    def __init__(self):
        super().__init__()
        self.features = torchvision.models.mobilenet_v2().features[:-1]

    def forward(self, x):
        out, size = {}, x.shape[-1]
        for m in self.features:
            x = m(x)
            out[size // x.shape[-1]] = x
        return out


class Detector(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        name = cfg['backbone']
        self.levels = cfg['levels']
        if name == 'mobilenet_v2':
            self.body = MobileNetFeatures()
            self.pick = lambda feats: [feats[2 ** l] for l in self.levels]
        else:
            net = getattr(torchvision.models, name)()
            self.body = IntermediateLayerGetter(net, {f'layer{l - 1}': str(l) for l in self.levels})
            self.pick = lambda feats: [feats[str(l)] for l in self.levels]
        in_channels = cfg['in_channels']
        self.fpn = FeaturePyramidNetwork(in_channels, cfg['fpn_channels'])
        self.p6 = P6(in_channels[-1], cfg['fpn_channels']) if cfg['extra_p6'] else None
        self.head = RetinaHead(cfg['fpn_channels'], cfg['head_channels'], cfg['num_classes'])
        self.num_classes = cfg['num_classes']
        self.cache = {}

    def forward(self, x):
        height, width = x.shape[-2:]
        c = self.pick(self.body(x))
        p = list(self.fpn({str(i): f for i, f in enumerate(c)}).values())
        if self.p6 is not None:
            p.append(self.p6(c[-1]))
        levels = self.levels + ([self.levels[-1] + 1] if self.p6 is not None else [])
        outputs = self.head(p)
        results = []
        for b in range(x.shape[0]):
            boxes_all, scores_all, labels_all = [], [], []
            for level, (cls, reg) in zip(levels, outputs):
                h, w = cls.shape[-2:]
                key = (level, h, w)
                if key not in self.cache:
                    self.cache[key] = anchors_for(level, h, w)
                anchors = self.cache[key]
                scores = cls[b].permute(1, 2, 0).reshape(-1, self.num_classes).sigmoid()
                deltas = reg[b].permute(1, 2, 0).reshape(-1, 4)
                # mmdetection nms_pre: the 1000 anchors with the highest max score, then score_thr.
                max_scores, _ = scores.max(1)
                k = min(1000, max_scores.numel())
                _, top = max_scores.topk(k)
                s, a, d = scores[top], anchors[top], deltas[top]
                keep = s > 0.05
                idx, labels = keep.nonzero(as_tuple=True)
                boxes_all.append(decode(a[idx], d[idx], height, width))
                scores_all.append(s[idx, labels])
                labels_all.append(labels)
            boxes, scores, labels = torch.cat(boxes_all), torch.cat(scores_all), torch.cat(labels_all)
            keep = batched_nms(boxes, scores, labels, 0.5)[:100]
            results.append((boxes[keep], scores[keep], labels[keep]))
        return results


def build(model):
    if model['kind'] == 'classification':
        net = getattr(torchvision.models, model['torchvision'])(num_classes=1000)
    else:
        net = Detector(model)
    return net.eval()


def main():
    cfg = json.loads(sys.argv[1])
    torch.set_num_threads(cfg['threads'])
    models = {m['name']: m for m in cfg['models']}
    built = {}
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        model = models[request['name']]
        if request.get('rebuild') or model['name'] not in built:
            h, w = model['size']
            built[model['name']] = (build(model), torch.rand(1, 3, h, w))
        net, x = built[model['name']]
        p50, cv = timed(lambda: net(x), cfg['iterations'], request.get('max_seconds', cfg['max_seconds']))
        print(json.dumps({'name': model['name'], 'p50': p50, 'cv': cv}), flush=True)


if __name__ == '__main__':
    main()
