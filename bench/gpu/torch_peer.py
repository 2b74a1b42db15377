"""PyTorch CUDA on the same GPU as bench/gpu's tfjs webgpu benches, the same rows, fp32 (TF32 off,
as WebGPU has none):

- a 3x3 convolution and a 4096 matmul;
- training steps, batch 8 at 512x512, AdamW, of the GN+WS networks bench/learning's peers train
  (pytorch_retinanet.py's RetinaNet-R18-FPN with its mmdetection losses; pytorch_faster_rcnn.py's
  torchvision Faster R-CNN on the GN+WS ResNet-18 FPN), with their batch norms absent as ours;
- inference at batch 1 of the ten networks of networks.json (written by pack.sh from
  bench/gpu/networks.ts): torchvision's seven backbones in classification form, and RetinaNet, Faster
  R-CNN and Cascade R-CNN on torchvision's ResNet-50 FPN (eval mode). RetinaNet on P3-P6 as ours
  (torchvision's own has P7 too); the cascade is torchvision's Faster R-CNN with two more RoI stages
  (class-agnostic boxes, mmdetection's stage stds, scores averaged over the stages), which
  torchvision does not ship. The repeatability network is profiled five times, each on a fresh
  model.

Each row carries the `key` of our row it pairs with. Writes JSON to argv[1]; progress to stdout.
  python3 torch_peer.py OUT.json [networks.json]
"""
import json
import os
import sys
import time

import torch

here = os.path.dirname(os.path.abspath(__file__))
# The GN+WS peers: bench/learning's scripts, which pack.sh copies beside this one.
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, '..', 'learning'))

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.backends.cudnn.benchmark = True
# BENCH_TORCH_DEVICE=cpu with small networks checks this script where no GPU is (not a peer figure).
dev = torch.device(os.environ.get('BENCH_TORCH_DEVICE', 'cuda'))
sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
rows = []
out_file = sys.argv[1]
networks = json.load(open(sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, 'networks.json')))


def timed(f, n, warm=2):
    times = []
    first = 0.0
    for i in range(n + warm):
        sync()
        t0 = time.perf_counter()
        f()
        sync()
        ms = (time.perf_counter() - t0) * 1000
        if i == 0:
            first = ms
        if i >= warm:
            times.append(ms)
    times.sort()
    return {'p50': times[len(times) // 2], 'p90': times[min(len(times) - 1, int(len(times) * 0.9))], 'first': first}


def row(key, name, r):
    rows.append({'key': key, 'name': name, **r})
    print(f'{name}: {json.dumps(r)}', flush=True)
    json.dump({'torch': torch.__version__, 'device': torch.cuda.get_device_name(0) if dev.type == 'cuda' else 'cpu', 'rows': rows}, open(out_file, 'w'), indent=2)


def attempt(key, name, f):
    try:
        f()
    except Exception as e:  # one network's failure leaves the others' rows
        row(key, name, {'error': f'{type(e).__name__}: {e}'})


with torch.no_grad():
    x = torch.randn(8, 256, 64, 64, device=dev)
    conv = torch.nn.Conv2d(256, 256, 3, padding=1, bias=False).to(dev)
    r = timed(lambda: conv(x), 20)
    row('op:conv3x3', 'conv 3x3 256->256 on 8x64x64', {**r, 'tflops': 2 * 8 * 64 * 64 * 256 * 256 * 9 / (r['p50'] * 1e9)})
    a = torch.randn(4096, 4096, device=dev)
    b = torch.randn(4096, 4096, device=dev)
    r = timed(lambda: a @ b, 20)
    row('op:matmul', 'matmul 4096x4096', {**r, 'tflops': 2 * 4096**3 / (r['p50'] * 1e9)})
    del x, conv, a, b

# ---- training steps: bench/learning's GN+WS networks ----------------------------------------------
SIZE, BATCH, CLASSES = int(os.environ.get('BENCH_TRAIN_SIZE', 512)), int(os.environ.get('BENCH_TRAIN_BATCH', 8)), 80


def boxes_for(n, size):
    """bench/gpu/networks.ts trainingBoxes: three boxes per image."""
    s = size / 64
    return ([[round(v) for v in (4 * s + i, 6 * s, 30 * s, 34 * s, 20 * s, 16 * s, 60 * s, 62 * s, 40 * s, 4 * s, 52 * s, 14 * s)]
             for i in range(n)], [[i % 3, 2, 1] for i in range(n)])


def train_retinanet():
    import pytorch_retinanet as pr
    torch.manual_seed(0)
    model = pr.RetinaNetR18(CLASSES, 256, 256).to(dev)
    with torch.no_grad():
        _, _, shapes = model(torch.zeros(1, 3, SIZE, SIZE, device=dev))
    anchors = pr.grid_anchors(shapes).to(dev)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 1e-4}, {'params': no_decay, 'weight_decay': 0.0}], lr=1e-4)
    images = torch.randn(BATCH, 3, SIZE, SIZE, device=dev)
    bx, lb = boxes_for(BATCH, SIZE)
    targets = [(torch.tensor(b, dtype=torch.float32, device=dev).reshape(-1, 4), torch.tensor(l, device=dev)) for b, l in zip(bx, lb)]
    losses = []

    def step():
        cls, reg, _ = model(images)
        cls_loss, box_loss, _ = pr.retina_loss(cls, reg, anchors, targets)
        loss = cls_loss + box_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 35.0)
        opt.step()
        losses.append(round(float(loss), 4))

    r = timed(step, 8)
    row('train:retinanet-r18-fpn', f'RetinaNet-R18-FPN train step, batch {BATCH}, {SIZE}x{SIZE}, GN+WS (bench/learning peer)', {**r, 'losses': losses})


def train_faster():
    import pytorch_faster_rcnn as pf
    torch.manual_seed(0)
    model = pf.build(CLASSES, 256, 256, SIZE, 512).to(dev)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-4)
    images = list(torch.randn(BATCH, 3, SIZE, SIZE, device=dev))
    bx, lb = boxes_for(BATCH, SIZE)
    targets = [{'boxes': torch.tensor(b, dtype=torch.float32, device=dev).reshape(-1, 4), 'labels': torch.tensor(l, device=dev) + 1}
               for b, l in zip(bx, lb)]
    losses = []

    def step():
        loss = sum(model(images, targets).values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 35.0)
        opt.step()
        losses.append(round(float(loss), 4))

    r = timed(step, 8)
    row('train:faster-rcnn-r18-fpn', f'Faster R-CNN-R18-FPN train step, batch {BATCH}, {SIZE}x{SIZE}, GN+WS (bench/learning peer)', {**r, 'losses': losses})


attempt('train:retinanet-r18-fpn', 'RetinaNet-R18-FPN train step', train_retinanet)
attempt('train:faster-rcnn-r18-fpn', 'Faster R-CNN-R18-FPN train step', train_faster)
if dev.type == 'cuda':
    torch.cuda.empty_cache()

# ---- inference: the ten networks ------------------------------------------------------------------
import torchvision  # noqa: E402
from torchvision.models.detection import FasterRCNN, RetinaNet  # noqa: E402
from torchvision.models.detection.anchor_utils import AnchorGenerator  # noqa: E402
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor  # noqa: E402
from torchvision.models.detection.roi_heads import RoIHeads  # noqa: E402
from torchvision.models.detection import _utils as det_utils  # noqa: E402
from torchvision.ops import boxes as box_ops  # noqa: E402


class CascadeRoIHeads(RoIHeads):
    """Inference of mmdetection's Cascade R-CNN (3 stages) on torchvision's RoI heads: each stage
    pools the previous stage's refined boxes, regresses class-agnostic deltas with its own stds, and
    the final scores are the stages' softmax averaged, boxes from the last stage."""

    def __init__(self, base, channels, num_classes):
        from torchvision.models.detection.faster_rcnn import TwoMLPHead
        super().__init__(base.box_roi_pool, base.box_head, base.box_predictor, 0.5, 0.5, 512, 0.25, None,
                         base.score_thresh, base.nms_thresh, base.detections_per_img)
        self.heads = torch.nn.ModuleList([base.box_head] + [TwoMLPHead(channels * 49, 1024) for _ in range(2)])
        self.regressors = torch.nn.ModuleList([torch.nn.Linear(1024, 4) for _ in range(3)])  # class-agnostic boxes
        self.classifiers = torch.nn.ModuleList([torch.nn.Linear(1024, num_classes) for _ in range(3)])
        self.coders = [det_utils.BoxCoder(w) for w in ((10., 10., 5., 5.), (20., 20., 10., 10.), (30., 30., 15., 15.))]
        self.num_classes = num_classes

    def forward(self, features, proposals, image_shapes, targets=None):
        scores = []
        boxes = proposals
        counts = [len(b) for b in proposals]
        for head, regressor, classifier, coder in zip(self.heads, self.regressors, self.classifiers, self.coders):
            f = head(self.box_roi_pool(features, boxes, image_shapes))
            scores.append(torch.softmax(classifier(f), -1))
            decoded = coder.decode(regressor(f), boxes).reshape(-1, 4)
            boxes = [box_ops.clip_boxes_to_image(b, s) for b, s in zip(decoded.split(counts), image_shapes)]
        score = torch.stack(scores).mean(0)
        result = []
        for s, b, shape in zip(score.split(counts), boxes, image_shapes):
            labels = torch.arange(self.num_classes, device=s.device).view(1, -1).expand_as(s)
            bb = b.unsqueeze(1).expand(-1, self.num_classes, 4)
            bb, s, labels = bb[:, 1:].reshape(-1, 4), s[:, 1:].reshape(-1), labels[:, 1:].reshape(-1)
            keep = torch.where(s > self.score_thresh)[0]
            bb, s, labels = bb[keep], s[keep], labels[keep]
            keep = box_ops.batched_nms(bb, s, labels, self.nms_thresh)[:self.detections_per_img]
            result.append({'boxes': bb[keep], 'scores': s[keep], 'labels': labels[keep]})
        return result, {}


def p6_block():
    import pytorch_retinanet as pr
    return pr.P6FromC5(2048, 256)


def build(net):
    w, h = (int(v) for v in net['size'].split('x'))
    if net['form'] == 'classification':
        return torchvision.models.__dict__[net['backbone']](weights=None), torch.rand(1, 3, h, w, device=dev)
    sizes = dict(min_size=h, max_size=w)
    if net['peer'] == 'retinanet':
        backbone = _resnet_fpn_extractor(torchvision.models.resnet50(), 5, returned_layers=[2, 3, 4], extra_blocks=p6_block())
        anchors = AnchorGenerator(tuple((x, int(x * 2 ** (1 / 3)), int(x * 2 ** (2 / 3))) for x in (32, 64, 128, 256)), ((0.5, 1.0, 2.0),) * 4)
        model = RetinaNet(backbone, num_classes=81, anchor_generator=anchors, **sizes)
    else:
        model = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=81, **sizes)
        if net['peer'] == 'cascade':
            model.roi_heads = CascadeRoIHeads(model.roi_heads, 256, 81)
    return model, [torch.rand(3, h, w, device=dev)]


def profile(net):
    p50s = []
    for _ in range(5 if net.get('repeat') else 1):
        model, x = build(net)
        model = model.to(dev).eval()
        with torch.no_grad():
            p50s.append(timed(lambda: model(x), 30, warm=5)['p50'])
        del model
    mean = sum(p50s) / len(p50s)
    r = {'p50s': p50s, 'meanP50': mean}
    if len(p50s) > 1:
        r['cvOfP50'] = (sum((p - mean) ** 2 for p in p50s) / (len(p50s) - 1)) ** 0.5 / mean
    row(net['key'], f"{net['name']} batch 1", r)


for net in networks:
    attempt(net['key'], net['name'], lambda: profile(net))
