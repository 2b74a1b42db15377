#!/usr/bin/python3
"""RetinaNet-ResNet-18-FPN (P3..P6) trained from scratch in PyTorch: the reference side of the
learning benchmark (bench/learning/run.ts runs it; see bench/learning/README.md).

The network is the one libs/arch/src/graph/lower.ts lowers for
`resnet18:64:11-21-21-21/fpn:3-6:C/none/retinanet:C` and libs/detector builds in tfjs:

- backbone: torchvision resnet18 (BasicBlock [2, 2, 2, 2], no avgpool/fc), every conv weight-
  standardised (mmcv conv_ws_2d: per output channel, unbiased std, eps 1e-5 added to the std) and
  every norm a GroupNorm(gcd(C, 32), C) with affine (mmdetection's GN, 32 groups at ResNet widths);
- neck: torchvision.ops.FeaturePyramidNetwork on C3, C4, C5 (lateral 1x1 + output 3x3, nearest
  top-down) plus P6 = 3x3 stride-2 conv on C5 (mmdetection add_extra_convs='on_input'); xavier
  uniform init (mmdetection FPN) instead of torchvision's kaiming_uniform(a=1);
- head: torchvision RetinaNetClassificationHead / RetinaNetRegressionHead (4 x conv3x3+ReLU towers,
  weights shared over levels, normal(0, 0.01), cls bias from prior 0.01), so tower width = FPN width.

Training and decoding are mmdetection's RetinaNet as libs/detector implements them, written here
rather than taken from torchvision.models.detection.RetinaNet where torchvision differs:
anchors (mmdetection's are not rounded; torchvision rounds base anchors to integers), assignment
(MaxIoUAssigner: each gt claims all of its best anchors; torchvision's Matcher gives them their own
argmax gt), loss normalisation (total positives of the batch; torchvision per image, then averaged),
box loss (smooth-L1 beta 1/9 on deltas; torchvision 0.14 defaults to L1), decoding (dw, dh clipped
both ways; torchvision clips only above), and no GeneralizedRCNNTransform (our letterbox instead).

Usage (normally through run.ts):
  /usr/bin/python3 bench/learning/pytorch_retinanet.py --train DIR --val DIR --out DIR \
      --budget 300 --checkpoints 60,180,300
DIR (train/val): annotations.json + images/ as libs/data's exportCoco writes them.
--out receives det_<t>s.json (COCO results, original image pixels, dataset category ids) per
checkpoint and manifest.json (parameters, steps, images/s, checkpoint list); updated as it goes.
"""
import argparse
import json
import math
import os
import random
import sys
import time
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision.models import resnet18
from torchvision.models.detection.retinanet import RetinaNetClassificationHead, RetinaNetRegressionHead
from torchvision.ops import FeaturePyramidNetwork, batched_nms, box_iou, sigmoid_focal_loss
from torchvision.ops.feature_pyramid_network import ExtraFPNBlock

# libs/data IMAGENET_NORMALIZATION (0..255 units).
MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float64)
STD = np.array([58.395, 57.12, 57.375], dtype=np.float64)
LEVELS = (3, 4, 5, 6)
# libs/detector RETINANET_DEFAULTS (mmdetection RetinaNet).
OCTAVE_BASE_SCALE = 4
SCALES_PER_OCTAVE = 3
RATIOS = (0.5, 1.0, 2.0)  # h / w
POS_IOU, NEG_IOU = 0.5, 0.4
FOCAL_ALPHA, FOCAL_GAMMA = 0.25, 2.0
SMOOTH_L1_BETA = 1.0 / 9.0
WH_CLIP = abs(math.log(16.0 / 1000.0))
NMS_PRE, SCORE_THR, NMS_IOU, MAX_PER_IMG = 1000, 0.05, 0.5, 100
WS_EPS = 1e-5


# ---- Network -------------------------------------------------------------------------------------

class WSConv2d(nn.Conv2d):
    """mmcv ConvWS: (w - mean) / (std + eps) per output channel, std unbiased."""

    def forward(self, x):
        w = self.weight
        flat = w.reshape(w.shape[0], -1)
        mean = flat.mean(dim=1).reshape(-1, 1, 1, 1)
        std = flat.std(dim=1).reshape(-1, 1, 1, 1)
        return F.conv2d(x, (w - mean) / (std + WS_EPS), self.bias, self.stride, self.padding, self.dilation, self.groups)


def group_norm(channels):
    return nn.GroupNorm(math.gcd(channels, 32), channels)


def to_ws(module):
    """Replaces every nn.Conv2d under `module` by a WSConv2d holding the same tensors."""
    for name, child in module.named_children():
        if type(child) is nn.Conv2d:
            ws = WSConv2d(child.in_channels, child.out_channels, child.kernel_size, child.stride, child.padding,
                          child.dilation, child.groups, child.bias is not None)
            ws.weight = child.weight
            if child.bias is not None:
                ws.bias = child.bias
            setattr(module, name, ws)
        else:
            to_ws(child)


class Backbone(nn.Module):
    """torchvision resnet18 (GN + WS) up to layer4; returns C3, C4, C5."""

    def __init__(self):
        super().__init__()
        r = resnet18(weights=None, norm_layer=group_norm)  # kaiming_normal fan_out; GN 1 / 0
        to_ws(r)
        self.conv1, self.bn1, self.relu, self.maxpool = r.conv1, r.bn1, r.relu, r.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = r.layer1, r.layer2, r.layer3, r.layer4

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return OrderedDict([('c3', c3), ('c4', c4), ('c5', c5)])


class P6FromC5(ExtraFPNBlock):
    """mmdetection FPN add_extra_convs='on_input' with one extra level: P6 = conv3x3/2(C5)."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.p6 = nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1)

    def forward(self, results, x, names):
        return results + [self.p6(x[-1])], names + ['p6']


class RetinaNetR18(nn.Module):
    def __init__(self, num_classes, fpn_channels, head_channels):
        super().__init__()
        if head_channels != fpn_channels:
            raise SystemExit('torchvision RetinaNet heads take their width from the FPN: use --head-channels = --fpn-channels')
        self.num_classes = num_classes
        self.backbone = Backbone()
        self.neck = FeaturePyramidNetwork([128, 256, 512], fpn_channels, extra_blocks=P6FromC5(512, fpn_channels))
        for m in self.neck.modules():
            if isinstance(m, nn.Conv2d):  # mmdetection FPN: xavier_init(distribution='uniform'), bias 0
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        a = len(RATIOS) * SCALES_PER_OCTAVE
        self.cls_head = RetinaNetClassificationHead(fpn_channels, a, num_classes)
        self.reg_head = RetinaNetRegressionHead(fpn_channels, a)

    def forward(self, x):
        feats = list(self.neck(self.backbone(x)).values())
        # [N, sum_l H_l W_l A, K] and [N, ..., 4]: location-major, anchor-minor (our NHWC order).
        return self.cls_head(feats), self.reg_head(feats), [f.shape[-2:] for f in feats]

    def module_params(self):
        """Parameters per libs/flops module (backbone.stem, backbone.stage1..4, neck, head)."""
        count = lambda *ms: sum(p.numel() for m in ms for p in m.parameters())
        b = self.backbone
        return OrderedDict([
            ('backbone.stem', count(b.conv1, b.bn1)),
            ('backbone.stage1', count(b.layer1)), ('backbone.stage2', count(b.layer2)),
            ('backbone.stage3', count(b.layer3)), ('backbone.stage4', count(b.layer4)),
            ('neck', count(self.neck)), ('head', count(self.cls_head, self.reg_head)),
        ])


# ---- Anchors, assignment, coder (libs/detector boxes.ts) ------------------------------------------

def grid_anchors(shapes):
    """mmdetection anchors for levels P3..: ratio-major, scale-minor; centres (x*s, y*s); [A_total, 4]."""
    out = []
    for level, (h, w) in zip(LEVELS, shapes):
        stride = 2 ** level
        base = []
        for r in RATIOS:
            hr = math.sqrt(r)
            wr = 1 / hr
            for s in range(SCALES_PER_OCTAVE):
                scale = OCTAVE_BASE_SCALE * 2 ** (s / SCALES_PER_OCTAVE)
                bw, bh = stride * wr * scale, stride * hr * scale
                base.append([-0.5 * bw, -0.5 * bh, 0.5 * bw, 0.5 * bh])
        base = torch.tensor(base, dtype=torch.float32)
        ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32) * stride,
                                torch.arange(w, dtype=torch.float32) * stride, indexing='ij')
        shifts = torch.stack([xs, ys, xs, ys], dim=-1).reshape(-1, 1, 4)
        out.append((shifts + base.reshape(1, -1, 4)).reshape(-1, 4))
    return torch.cat(out)


def assign(anchors, gts):
    """MaxIoUAssigner (pos 0.5, neg 0.4, min_pos_iou 0, low-quality matches): -1 ignore, 0 bg, j+1."""
    n = anchors.shape[0]
    assigned = torch.zeros(n, dtype=torch.long, device=anchors.device)
    if gts.shape[0] == 0:
        return assigned
    overlaps = box_iou(anchors, gts)  # [n, m]
    max_iou, argmax = overlaps.max(dim=1)
    assigned.fill_(-1)
    assigned[max_iou < NEG_IOU] = 0
    pos = max_iou >= POS_IOU
    assigned[pos] = argmax[pos] + 1
    gt_max = overlaps.max(dim=0).values
    for j in range(gts.shape[0]):  # later gts win ties, as in mmdetection
        if gt_max[j] > 0:
            assigned[overlaps[:, j] == gt_max[j]] = j + 1
    return assigned


def encode(anchors, gts):
    pw, ph = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    px, py = anchors[:, 0] + 0.5 * pw, anchors[:, 1] + 0.5 * ph
    gw, gh = gts[:, 2] - gts[:, 0], gts[:, 3] - gts[:, 1]
    gx, gy = gts[:, 0] + 0.5 * gw, gts[:, 1] + 0.5 * gh
    return torch.stack([(gx - px) / pw, (gy - py) / ph, torch.log(gw / pw), torch.log(gh / ph)], dim=1)


def decode(anchors, deltas, width, height):
    pw, ph = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    px, py = anchors[:, 0] + 0.5 * pw, anchors[:, 1] + 0.5 * ph
    dw = deltas[:, 2].clamp(-WH_CLIP, WH_CLIP)
    dh = deltas[:, 3].clamp(-WH_CLIP, WH_CLIP)
    gw, gh = pw * dw.exp(), ph * dh.exp()
    gx, gy = px + pw * deltas[:, 0], py + ph * deltas[:, 1]
    boxes = torch.stack([gx - 0.5 * gw, gy - 0.5 * gh, gx + 0.5 * gw, gy + 0.5 * gh], dim=1)
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
    return boxes


def retina_loss(cls, reg, anchors, targets):
    """Focal (alpha .25, gamma 2) over non-ignored anchors + smooth-L1 (beta 1/9) over positives,
    both divided by the batch's positives (at least 1)."""
    assigned = torch.stack([assign(anchors, boxes) for boxes, _ in targets])  # [N, A]
    valid = assigned >= 0
    pos = assigned > 0
    num_pos = max(int(pos.sum()), 1)
    cls_target = torch.zeros_like(cls)
    deltas_target = []
    for n, (boxes, labels) in enumerate(targets):
        idx = torch.nonzero(pos[n]).squeeze(1)
        g = assigned[n, idx] - 1
        cls_target[n, idx, labels[g]] = 1.0
        deltas_target.append(encode(anchors[idx], boxes[g]))
    cls_loss = sigmoid_focal_loss(cls[valid], cls_target[valid], FOCAL_ALPHA, FOCAL_GAMMA, reduction='sum') / num_pos
    box_loss = F.smooth_l1_loss(reg[pos], torch.cat(deltas_target), beta=SMOOTH_L1_BETA, reduction='sum') / num_pos
    return cls_loss, box_loss, int(pos.sum())


@torch.no_grad()
def detect(cls, reg, anchors, level_sizes, width, height):
    """mmdetection RetinaHead test path per image: top-1000 per level above 0.05, class-wise NMS 0.5, 100."""
    k = cls.shape[-1]
    results = []
    for n in range(cls.shape[0]):
        boxes, scores, labels = [], [], []
        start = 0
        for size in level_sizes:
            end = start + size
            s = cls[n, start:end].sigmoid().reshape(-1)
            top, idx = s.topk(min(NMS_PRE, s.numel()))
            keep = top > SCORE_THR
            top, idx = top[keep], idx[keep]
            a = idx // k + start
            boxes.append(decode(anchors[a], reg[n, a], width, height))
            scores.append(top)
            labels.append(idx % k)
            start = end
        b, s, l = torch.cat(boxes), torch.cat(scores), torch.cat(labels)
        keep = batched_nms(b, s, l, NMS_IOU)[:MAX_PER_IMG]
        results.append((b[keep], s[keep], l[keep]))
    return results


# ---- Data (libs/data batches.ts: letterbox, flip, ImageNet normalisation) ----------------------------

def load_split(directory):
    with open(os.path.join(directory, 'annotations.json')) as f:
        coco = json.load(f)
    images = {im['id']: np.asarray(Image.open(os.path.join(directory, 'images', im['file_name'])).convert('RGB'))
              for im in coco['images']}
    by_image = {im['id']: [] for im in coco['images']}
    for a in coco['annotations']:
        if not a.get('iscrowd', 0):
            by_image[a['image_id']].append(a)
    return coco, images, by_image


def letterbox(w, h, W, H):
    s = min(W / w, H / h)
    return s, (W - w * s) / 2, (H - h * s) / 2


def render(img, s, ox, oy, W, H, flipped):
    """renderTransformed: bilinear at pixel centres, edge clamp, padding 0 after normalisation; HWC."""
    sh, sw = img.shape[:2]
    X = np.arange(W)
    u = ((W - 1 - X if flipped else X) + 0.5 - ox) / s
    v = (np.arange(H) + 0.5 - oy) / s
    inx, iny = (u >= 0) & (u < sw), (v >= 0) & (v < sh)
    sx, sy = np.clip(u - 0.5, 0, sw - 1), np.clip(v - 0.5, 0, sh - 1)
    x0, y0 = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
    x1, y1 = np.minimum(x0 + 1, sw - 1), np.minimum(y0 + 1, sh - 1)
    wx, wy = (sx - x0)[None, :, None], (sy - y0)[:, None, None]
    f = img.astype(np.float64)
    val = (f[y0][:, x0] * (1 - wx) * (1 - wy) + f[y0][:, x1] * wx * (1 - wy)
           + f[y1][:, x0] * (1 - wx) * wy + f[y1][:, x1] * wx * wy)
    out = (val - MEAN) / STD
    out[~iny] = 0
    out[:, ~inx] = 0
    return out.astype(np.float32)


def make_batch(split, ids, label_of, W, H, flips):
    coco_images, images, by_image = split
    meta = {im['id']: im for im in coco_images}
    x = np.empty((len(ids), H, W, 3), dtype=np.float32)
    targets, transforms = [], []
    for k, (i, flipped) in enumerate(zip(ids, flips)):
        m = meta[i]
        s, ox, oy = letterbox(m['width'], m['height'], W, H)
        x[k] = render(images[i], s, ox, oy, W, H, flipped)
        boxes, labels = [], []
        for a in by_image[i]:
            bx, by, bw, bh = a['bbox']
            x1, x2 = bx * s + ox, (bx + bw) * s + ox
            y1, y2 = by * s + oy, (by + bh) * s + oy
            if flipped:
                x1, x2 = W - x2, W - x1
            x1, y1, x2, y2 = max(0, x1), max(0, y1), min(W, x2), min(H, y2)
            if x2 - x1 < 1 or y2 - y1 < 1:  # minBoxSize 1
                continue
            boxes.append([x1, y1, x2, y2])
            labels.append(label_of[a['category_id']])
        targets.append((torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), torch.tensor(labels, dtype=torch.long)))
        transforms.append((s, ox, oy))
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), targets, transforms


# ---- Train / evaluate ------------------------------------------------------------------------------

def evaluate(model, anchors, level_sizes, val, category_ids, W, H, batch_size):
    label_of = {c: i for i, c in enumerate(category_ids)}  # targets are built but unused
    coco, _, _ = val
    ids = [im['id'] for im in coco['images']]
    dets = []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(ids), batch_size):
            chunk = ids[start:start + batch_size]
            x, _, transforms = make_batch((coco['images'],) + val[1:], chunk, label_of, W, H, [False] * len(chunk))
            cls, reg, _ = model(x)
            for i, (b, s, l), (sc, ox, oy) in zip(chunk, detect(cls, reg, anchors, level_sizes, W, H), transforms):
                for box, score, label in zip(b.tolist(), s.tolist(), l.tolist()):
                    x1, y1 = (box[0] - ox) / sc, (box[1] - oy) / sc  # toSourceBox
                    dets.append({'image_id': i, 'category_id': category_ids[label],
                                 'bbox': [x1, y1, (box[2] - ox) / sc - x1, (box[3] - oy) / sc - y1], 'score': score})
    model.train()
    return dets


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--train', required=True, help='exportCoco dir of the training split')
    p.add_argument('--val', required=True, help='exportCoco dir of the validation split')
    p.add_argument('--out', required=True)
    p.add_argument('--budget', type=float, default=300, help='training seconds (evaluation excluded)')
    p.add_argument('--checkpoints', default='', help='comma list of training seconds to evaluate at; the budget is always one')
    p.add_argument('--input', type=int, default=128, help='square input side')
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--wd', type=float, default=1e-4, help='AdamW decoupled weight decay (not on biases and norms)')
    p.add_argument('--adam-eps', type=float, default=1e-8)
    p.add_argument('--warmup-steps', type=int, default=100, help='linear warm-up from lr * 0.001')
    p.add_argument('--grad-clip', type=float, default=35.0, help='global L2 norm; 0 disables')
    p.add_argument('--anchor-scale', type=float, default=None,
                   help='anchor octave base scale (default: mmdetection\'s 4; run.ts passes the one the trainer fits to the data)')
    p.add_argument('--fpn-channels', type=int, default=64)
    p.add_argument('--head-channels', type=int, default=None, help='default: --fpn-channels')
    p.add_argument('--no-flip', action='store_true')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--eval-batch', type=int, default=16)
    p.add_argument('--log-every', type=float, default=10.0, help='seconds between progress lines')
    args = p.parse_args()
    if args.anchor_scale is not None:
        globals()['OCTAVE_BASE_SCALE'] = args.anchor_scale  # read by the anchor generator

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)
    W = H = args.input
    checkpoints = sorted({float(c) for c in args.checkpoints.split(',') if c.strip() and float(c) < args.budget} | {args.budget})

    t_load = time.perf_counter()
    train = load_split(args.train)
    val = load_split(args.val)
    category_ids = sorted(c['id'] for c in train[0]['categories'])  # labelMap: category-id order
    label_of = {c: i for i, c in enumerate(category_ids)}
    train_split = (train[0]['images'],) + train[1:]
    train_ids = [im['id'] for im in train[0]['images']]
    print(f'data: {len(train_ids)} train, {len(val[0]["images"])} val images, {len(category_ids)} classes, '
          f'loaded in {time.perf_counter() - t_load:.1f}s', flush=True)

    model = RetinaNetR18(len(category_ids), args.fpn_channels, args.head_channels or args.fpn_channels)
    params = sum(p.numel() for p in model.parameters())
    per_module = model.module_params()
    print(f'params: {params:,} ' + ', '.join(f'{k} {v:,}' for k, v in per_module.items()), flush=True)
    with torch.no_grad():
        _, _, shapes = model(torch.zeros(1, 3, H, W))
    anchors = grid_anchors(shapes)
    a = len(RATIOS) * SCALES_PER_OCTAVE
    level_sizes = [h * w * a for h, w in shapes]

    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': args.wd}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=args.lr, eps=args.adam_eps)

    manifest = {
        'framework': f'pytorch {torch.__version__}, torchvision {__import__("torchvision").__version__}',
        'threads': args.threads, 'params': params, 'paramsPerModule': per_module,
        'args': vars(args), 'checkpoints': [],
    }

    def write_manifest():
        with open(os.path.join(args.out, 'manifest.json'), 'w') as f:
            json.dump(manifest, f, indent=1)

    train_seconds = 0.0
    step = images_seen = epoch = 0
    last_log_s, last_log_images = 0.0, 0
    next_ckpt = 0
    model.train()
    done = False
    while not done:
        order = rng.permutation(len(train_ids))
        flips = rng.random(len(train_ids)) < 0.5
        for start in range(0, len(order) - args.batch + 1, args.batch):  # drop last
            sel = order[start:start + args.batch]
            x, targets, _ = make_batch(train_split, [train_ids[i] for i in sel], label_of, W, H,
                                       [False if args.no_flip else bool(flips[i]) for i in sel])
            # Training seconds are the step's (forward, backward, update): batch preparation is
            # excluded, as the trainer's trainSeconds exclude it on the other side.
            t0 = time.perf_counter()
            warm = min(1.0, 0.001 + (1 - 0.001) * step / args.warmup_steps) if args.warmup_steps > 0 else 1.0
            for g in opt.param_groups:
                g['lr'] = args.lr * warm
            cls, reg, _ = model(x)
            cls_loss, box_loss, num_pos = retina_loss(cls, reg, anchors, targets)
            loss = cls_loss + box_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = float(nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip if args.grad_clip > 0 else float('inf')))
            opt.step()
            train_seconds += time.perf_counter() - t0
            step += 1
            images_seen += len(sel)
            if not math.isfinite(float(loss)):
                print(f'diverged at step {step}: loss {float(loss)}', flush=True)
                manifest['failure'] = f'non-finite loss at step {step}'
                write_manifest()
                sys.exit(2)
            if train_seconds - last_log_s >= args.log_every or step == 1:
                ips = (images_seen - last_log_images) / max(train_seconds - last_log_s, 1e-9)
                print(f'step {step:5d}  epoch {epoch}  train {train_seconds:6.1f}s  loss {float(loss):.4f} '
                      f'(cls {float(cls_loss):.4f} box {float(box_loss):.4f})  pos {num_pos}  '
                      f'|g| {grad_norm:.2f}  lr {args.lr * warm:.2e}  {ips:.1f} img/s', flush=True)
                last_log_s, last_log_images = train_seconds, images_seen
            if train_seconds >= checkpoints[next_ckpt]:
                t_eval = time.perf_counter()
                dets = evaluate(model, anchors, level_sizes, val, category_ids, W, H, args.eval_batch)
                target = checkpoints[next_ckpt]
                path = os.path.join(args.out, f'det_{int(round(target))}s.json')
                with open(path, 'w') as f:
                    json.dump(dets, f)
                eval_s = time.perf_counter() - t_eval
                manifest['checkpoints'].append({
                    'targetSeconds': target, 'trainSeconds': train_seconds, 'steps': step, 'images': images_seen,
                    'imagesPerSecond': images_seen / train_seconds, 'detections': os.path.basename(path),
                    'numDetections': len(dets), 'evalSeconds': eval_s,
                })
                write_manifest()
                print(f'checkpoint {target:g}s: step {step}, {images_seen} images, {images_seen / train_seconds:.1f} img/s, '
                      f'{len(dets)} detections -> {path} (eval {eval_s:.1f}s)', flush=True)
                next_ckpt += 1
                if next_ckpt == len(checkpoints):
                    done = True
                    break
        epoch += 1
    manifest['steps'] = step
    manifest['trainSeconds'] = train_seconds
    manifest['imagesPerSecond'] = images_seen / train_seconds
    write_manifest()


if __name__ == '__main__':
    main()
