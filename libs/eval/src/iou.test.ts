import { describe, expect, it } from 'vitest';
import { bboxIou } from './iou.js';

// Hand-computed from pycocotools' bbIou (maskApi.c): [x, y, w, h], no +1; crowd: intersection / area(dt).
describe('bboxIou', () => {
  it('overlap / union with no +1', () => {
    expect(bboxIou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(bboxIou([0, 0, 10, 10], [5, 0, 10, 10])).toBe(50 / 150); // 5*10 / (100 + 100 - 50)
    expect(bboxIou([0, 0, 10, 10], [10, 0, 10, 10])).toBe(0); // touching edges: w = 0
    expect(bboxIou([0, 0, 10, 10], [20, 20, 5, 5])).toBe(0);
    expect(bboxIou([0.5, 0.5, 2, 2], [1.5, 1.5, 2, 2])).toBe(1 / 7); // 1 / (4 + 4 - 1)
  });

  it('crowd ground truth: intersection over the detection area', () => {
    // dt [0,0,20,10] (200), crowd gt [10,0,100,100]: intersection 10*10 = 100 -> 100/200.
    expect(bboxIou([0, 0, 20, 10], [10, 0, 100, 100], true)).toBe(0.5);
    expect(bboxIou([0, 0, 20, 10], [10, 0, 100, 100], false)).toBe(100 / 10100);
    // a detection inside a crowd box has IoU 1 with it, however large the box
    expect(bboxIou([50, 50, 5, 5], [0, 0, 1000, 1000], true)).toBe(1);
  });
});
