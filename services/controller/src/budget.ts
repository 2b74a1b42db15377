// A search's budget (candidates, wall time) as the runner checks it before proposing. The wall
// budget is a deadline for results, not for proposals: no candidate starts that is not expected to
// finish within it, so a search ends near its budget rather than one candidate's duration after it.
import type { common, controller } from '@sm-nas/proto';
import { isDone, type SearchRecord } from './state.js';

/** Whether no further candidate of `stage` may be proposed at `nowMs`. */
export function budgetSpent(record: Pick<SearchRecord, 'budget' | 'createTime' | 'candidates'>, stage: common.SearchStage, nowMs: number): boolean {
  const { maxCandidates, maxWallSeconds } = record.budget;
  if (maxCandidates > 0 && record.candidates.size >= maxCandidates) return true;
  if (maxWallSeconds <= 0) return false;
  const elapsedMs = nowMs - record.createTime.getTime();
  return elapsedMs + expectedCandidateMs([...record.candidates.values()], stage) >= maxWallSeconds * 1000;
}

/**
 * What a new candidate of `stage` is expected to take, from proposal to result: the median of this
 * stage's finished candidates (queueing included, as a new one would queue), else of any stage's,
 * else 0 (nothing known yet: the first candidates always start).
 */
export function expectedCandidateMs(candidates: readonly controller.Candidate[], stage: common.SearchStage): number {
  const durations = (only?: common.SearchStage) =>
    candidates
      .filter((c) => isDone(c) && (only === undefined || c.stage === only) && c.createTime && c.updateTime)
      .map((c) => c.updateTime!.getTime() - c.createTime!.getTime())
      .sort((a, b) => a - b);
  const own = durations(stage);
  const d = own.length > 0 ? own : durations();
  if (d.length === 0) return 0;
  const mid = d.length >> 1;
  return d.length % 2 === 1 ? d[mid]! : (d[mid - 1]! + d[mid]!) / 2;
}
