// The results folder of a search: pareto.json (both stages' fronts), candidates.jsonl (every
// candidate, one JSON object a line, as the API returns them, every field written), report.html
// (both stages' Pareto plots as inline SVG, no scripts, no network), and winners/ (each final
// Pareto model's IR and its trained weights). The controller writes it when a search ends (its
// results directory); the CLI writes it where --out says. Each file is replaced whole (written
// beside, then renamed), so a reader, or a second writer of the same folder, never sees half a file.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { common, controller, trainer } from '@sm-nas/proto';
import { toFullJson } from '@sm-nas/proto/json';
import { dominates } from '@sm-nas/pareto';
import { minimised, stageObjectives, type StageObjectives } from '@sm-nas/pareto/stage';
import { frontOf, type SearchRecord, searchMessage } from './state.js';

export interface SearchResults {
  search: controller.Search;
  candidates: controller.Candidate[];
  structural: controller.ParetoFront;
  modular: controller.ParetoFront | undefined;
  /** The final front: modular if it ran, else structural. */
  final: controller.ParetoFront;
}

const json = (v: unknown) => JSON.stringify(v, null, 2);

export interface BaselineComparison {
  candidateId: string;
  canonical: string;
  ap: number;
  latencyMs: number;
  /** Structural front members with AP >= and latency <= the baseline's, better in one. */
  dominatedBy: { candidateId: string; canonical: string; ap: number; latencyMs: number }[];
  onFront: boolean;
}

/**
 * The hand-made baselines a search was seeded with (origin "initial") against the structural front,
 * where latency is measured: which front members dominate each (a search is worth running when its
 * front beats the hand-made models at equal or lower latency).
 */
export function compareBaselines(candidates: readonly controller.Candidate[], structural: controller.ParetoFront): BaselineComparison[] {
  const STRUCTURAL = common.SearchStage.SEARCH_STAGE_STRUCTURAL;
  const named = (o: StageObjectives) => ({ ap: o.accuracy, latencyMs: o.cost });
  return candidates
    .filter((c) => c.origin.startsWith('initial') && c.stage === STRUCTURAL && stageObjectives(c, STRUCTURAL))
    .map((b) => {
      const o = stageObjectives(b, STRUCTURAL)!;
      const dominatedBy = structural.candidates
        .map((f) => ({ f, p: stageObjectives(f, STRUCTURAL) }))
        .filter(({ f, p }) => f.candidateId !== b.candidateId && p && dominates(minimised(p), minimised(o)))
        .map(({ f, p }) => ({ candidateId: f.candidateId, canonical: f.architecture?.canonical ?? '', ...named(p!) }));
      return {
        candidateId: b.candidateId,
        canonical: b.architecture?.canonical ?? '',
        ...named(o),
        dominatedBy,
        onFront: structural.candidates.some((f) => f.candidateId === b.candidateId),
      };
    });
}

/** A winner's weights: its final retraining's when that succeeded, else its search evaluation's. */
export function winnerWeights(c: controller.Candidate): { uri: string; from: 'final_training' | 'proxy'; fidelity: common.Fidelity | undefined } | undefined {
  const final = c.finalTraining;
  if (final?.status === trainer.TrainStatus.TRAIN_STATUS_SUCCEEDED && final.checkpointUri) return { uri: final.checkpointUri, from: 'final_training', fidelity: final.fidelity };
  return c.checkpointUri ? { uri: c.checkpointUri, from: 'proxy', fidelity: c.metrics?.fidelity } : undefined;
}

/** What the API returns for an ended search, gathered from the controller's state. */
export function resultsOf(record: SearchRecord): SearchResults {
  const candidates = [...record.candidates.values()];
  const structural = frontOf(record, common.SearchStage.SEARCH_STAGE_STRUCTURAL);
  const modularRan = candidates.some((c) => c.stage === common.SearchStage.SEARCH_STAGE_MODULAR);
  const modular = modularRan ? frontOf(record, common.SearchStage.SEARCH_STAGE_MODULAR) : undefined;
  return { search: searchMessage(record), candidates, structural, modular, final: modular ?? structural };
}

export async function writeResults(dir: string, r: SearchResults): Promise<string[]> {
  await mkdir(join(dir, 'winners'), { recursive: true });
  const written: string[] = [];
  const put = async (name: string, text: string) => {
    const path = join(dir, name);
    const beside = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(beside, text);
    await rename(beside, path);
    written.push(path);
  };
  const front = (f: controller.ParetoFront) => toFullJson(controller.ParetoFront, 'nas.controller.v1.ParetoFront', f);
  await put(
    'pareto.json',
    json({
      search: toFullJson(controller.Search, 'nas.controller.v1.Search', r.search),
      structural: front(r.structural),
      modular: r.modular ? front(r.modular) : null,
      final: front(r.final),
      baselines: compareBaselines(r.candidates, r.structural),
    }),
  );
  await put('candidates.jsonl', r.candidates.map((c) => JSON.stringify(toFullJson(controller.Candidate, 'nas.controller.v1.Candidate', c))).join('\n') + '\n');
  await put('report.html', reportHtml(r));
  for (const c of r.final.candidates) {
    const id = c.architecture?.id ?? c.candidateId;
    const weights = winnerWeights(c);
    await put(
      join('winners', `${id}.json`),
      json({
        id,
        canonical: c.architecture?.canonical,
        architecture: c.architecture?.architecture ? toFullJson(common.Architecture, 'nas.common.v1.Architecture', c.architecture.architecture) : null,
        candidate: c.candidateId,
        metrics: c.metrics ? toFullJson(controller.CandidateMetrics, 'nas.controller.v1.CandidateMetrics', c.metrics) : null,
        finalTraining: c.finalTraining ? toFullJson(controller.FinalTrainingResult, 'nas.controller.v1.FinalTrainingResult', c.finalTraining) : null,
        weights: weights ? `${id}.safetensors` : null,
        // What the weights are: the final retraining's (at its fidelity), or the search proxy's.
        weightsFrom: weights?.from ?? null,
        weightsFidelity: weights?.fidelity ? toFullJson(common.Fidelity, 'nas.common.v1.Fidelity', weights.fidelity) : null,
      }),
    );
    if (weights?.uri.startsWith('file:')) {
      const target = join(dir, 'winners', `${id}.safetensors`);
      const beside = `${target}.${randomBytes(4).toString('hex')}.tmp`;
      await copyFile(fileURLToPath(weights.uri), beside);
      await rename(beside, target);
      written.push(target);
    }
  }
  return written;
}

// ---- report.html -------------------------------------------------------------------------------

const escape = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

interface Point {
  x: number;
  y: number;
  label: string;
  onFront: boolean;
}

/** A scatter plot of accuracy against cost with the front as a step line, as SVG markup. */
function scatter(title: string, xLabel: string, points: Point[]): string {
  const W = 560;
  const H = 360;
  const m = { left: 64, right: 16, top: 32, bottom: 48 };
  if (points.length === 0) return `<p>${escape(title)}: no evaluated candidates.</p>`;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs) * 0.95, Math.max(...xs) * 1.05 || 1];
  const [y0, y1] = [0, Math.max(...ys, 1e-3) * 1.1];
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0 || 1)) * (W - m.left - m.right);
  const sy = (y: number) => H - m.bottom - ((y - y0) / (y1 - y0 || 1)) * (H - m.top - m.bottom);
  const front = points.filter((p) => p.onFront).sort((a, b) => a.x - b.x);
  let step = '';
  for (const [i, p] of front.entries()) {
    step += `${i === 0 ? 'M' : 'L'}${sx(p.x).toFixed(1)},${sy(front[i - 1]?.y ?? p.y).toFixed(1)} L${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)} `;
  }
  const ticks = (lo: number, hi: number, n: number) => Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n);
  const fmt = (v: number) => (Math.abs(v) >= 1e9 ? `${(v / 1e9).toFixed(1)}G` : Math.abs(v) >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : v.toPrecision(3));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="${escape(title)}">
<text x="${W / 2}" y="20" text-anchor="middle" font-weight="bold">${escape(title)}</text>
<line x1="${m.left}" y1="${H - m.bottom}" x2="${W - m.right}" y2="${H - m.bottom}" stroke="#333"/>
<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${H - m.bottom}" stroke="#333"/>
${ticks(x0, x1, 5).map((t) => `<text x="${sx(t).toFixed(1)}" y="${H - m.bottom + 16}" text-anchor="middle" font-size="11">${fmt(t)}</text>`).join('\n')}
${ticks(y0, y1, 5).map((t) => `<text x="${m.left - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end" font-size="11">${t.toFixed(3)}</text>`).join('\n')}
<text x="${W / 2}" y="${H - 10}" text-anchor="middle" font-size="12">${escape(xLabel)}</text>
<text x="16" y="${H / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 16 ${H / 2})">AP (COCO, 0.50:0.95)</text>
<path d="${step}" fill="none" stroke="#d62728" stroke-width="1.5"/>
${points
  .map(
    (p) =>
      `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="${p.onFront ? 5 : 3.5}" fill="${p.onFront ? '#d62728' : '#1f77b4'}" fill-opacity="0.8"><title>${escape(p.label)}</title></circle>`,
  )
  .join('\n')}
</svg>`;
}

function points(r: SearchResults, stage: common.SearchStage, front: controller.ParetoFront | undefined): Point[] {
  const onFront = new Set(front?.candidates.map((c) => c.candidateId));
  return r.candidates
    .filter((c) => c.stage === stage && c.state === controller.CandidateState.CANDIDATE_STATE_SUCCEEDED && c.metrics?.accuracy)
    .map((c) => {
      const x = stage === common.SearchStage.SEARCH_STAGE_MODULAR ? Number(c.metrics!.flopsMultiplyAdds) : (c.metrics!.latency?.latencyMsP50 ?? 0);
      return { x, y: c.metrics!.accuracy!.ap, label: `${c.candidateId} ${c.architecture?.canonical ?? ''} AP ${c.metrics!.accuracy!.ap.toFixed(3)}`, onFront: onFront.has(c.candidateId) };
    })
    .filter((p) => p.x > 0);
}

function frontTable(front: controller.ParetoFront): string {
  const rows = front.candidates
    .map((c) => {
      const m = c.metrics;
      return `<tr><td>${escape(c.candidateId)}</td><td><code>${escape(c.architecture?.canonical ?? '')}</code></td><td>${m?.accuracy?.ap.toFixed(3) ?? ''}</td><td>${m?.accuracy?.ap50.toFixed(3) ?? ''}</td><td>${m?.latency ? m.latency.latencyMsP50.toFixed(1) : ''}</td><td>${m ? (Number(m.flopsMultiplyAdds) / 1e9).toFixed(2) : ''}</td><td>${escape(c.origin)}</td></tr>`;
    })
    .join('\n');
  return `<table><thead><tr><th>candidate</th><th>architecture</th><th>AP</th><th>AP50</th><th>latency p50 (ms)</th><th>GMACs</th><th>origin</th></tr></thead><tbody>${rows}</tbody></table>`;
}

const fidelityText = (f: common.Fidelity | undefined) =>
  f ? `input scale ${f.inputScale || 1}, width ${f.widthMultiplier || 1}, ${f.maxSteps} steps${f.maxSeconds ? ` or ${f.maxSeconds} s` : ''}` : 'unknown fidelity';

/** The final models, with what their weights are: retrained (and at what fidelity, with what AP) or the proxy's. */
function winnersSection(r: SearchResults): string {
  const rows = r.final.candidates.map((c) => {
    const w = winnerWeights(c);
    const ft = c.finalTraining;
    const retrained = ft?.status === trainer.TrainStatus.TRAIN_STATUS_SUCCEEDED;
    const what = !w
      ? 'no weights'
      : w.from === 'final_training'
        ? `retrained at ${fidelityText(w.fidelity)}: AP ${ft!.accuracy?.ap.toFixed(3) ?? '-'}, AP50 ${ft!.accuracy?.ap50.toFixed(3) ?? '-'} in ${ft!.trainSeconds.toFixed(0)} s`
        : `the search proxy's (${fidelityText(w.fidelity)})${ft && !retrained ? `; the final training ${escape(trainer.trainStatusToJSON(ft.status).replace('TRAIN_STATUS_', '').toLowerCase())}: ${escape(ft.failureReason)}` : ''}`;
    return `<tr><td>${escape(c.candidateId)}</td><td><code>${escape(c.architecture?.canonical ?? '')}</code></td><td>${what}</td></tr>`;
  });
  return `<h2>Winners (winners/)</h2><table><thead><tr><th>candidate</th><th>architecture</th><th>weights</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>`;
}

function baselineSection(baselines: BaselineComparison[]): string {
  if (baselines.length === 0) return '';
  const items = baselines.map((b) => {
    const what = b.dominatedBy.length
      ? `dominated by ${b.dominatedBy.map((d) => `${escape(d.candidateId)} (AP ${d.ap.toFixed(3)}, ${d.latencyMs.toFixed(1)} ms)`).join(', ')}`
      : b.onFront ? 'on the front itself (no candidate beats it at equal or lower latency)' : 'not dominated';
    return `<li>${escape(b.candidateId)} <code>${escape(b.canonical)}</code>: AP ${b.ap.toFixed(3)}, ${b.latencyMs.toFixed(1)} ms; ${what}</li>`;
  });
  return `<h2>Hand-made baselines vs the structural front</h2><ul>${items.join('')}</ul>`;
}

export function reportHtml(r: SearchResults): string {
  const s = r.search;
  const f = s.spec?.fidelity;
  const trained = r.candidates.filter((c) => c.state === controller.CandidateState.CANDIDATE_STATE_SUCCEEDED).length;
  const failed = r.candidates.filter((c) => c.state === controller.CandidateState.CANDIDATE_STATE_FAILED);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sm-nas search ${escape(s.searchId)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}code{font-size:12px}.plots{display:flex;flex-wrap:wrap;gap:1em}</style>
</head><body>
<h1>sm-nas search <code>${escape(s.searchId)}</code></h1>
<p>State ${escape(controller.searchStateToJSON(s.state).replace('SEARCH_STATE_', '').toLowerCase())}${s.failureReason ? ` (${escape(s.failureReason)})` : ''}; ${trained} candidates trained, ${failed.length} failed.
Hardware class <code>${escape(s.spec?.hardwareClass ?? '')}</code>; algorithm ${escape(s.spec?.algorithm?.name ?? '')};
training fidelity: ${fidelityText(f)}.
Accuracy is AP on the validation split after this proxy training; latency and FLOPs are of the full architecture at its input size.</p>
<div class="plots">
${scatter('Structural stage: accuracy vs latency', 'latency p50 (ms), measured on the target hardware', points(r, common.SearchStage.SEARCH_STAGE_STRUCTURAL, r.structural))}
${scatter('Modular stage: accuracy vs FLOPs', 'multiply-adds', points(r, common.SearchStage.SEARCH_STAGE_MODULAR, r.modular))}
</div>
<h2>Structural Pareto front (hypervolume ${r.structural.hypervolume.toPrecision(4)})</h2>
${frontTable(r.structural)}
${r.modular ? `<h2>Modular Pareto front (hypervolume ${r.modular.hypervolume.toPrecision(4)})</h2>\n${frontTable(r.modular)}` : ''}
${winnersSection(r)}
${baselineSection(compareBaselines(r.candidates, r.structural))}
${failed.length ? `<h2>Failed candidates</h2><ul>${failed.map((c) => `<li>${escape(c.candidateId)} <code>${escape(c.architecture?.canonical ?? '')}</code>: ${escape(c.failureReason)}</li>`).join('')}</ul>` : ''}
</body></html>
`;
}
