// The learning benchmarks' settings from the environment (each documents its own variables).
import { SHAPES_PRESETS } from '@sm-nas/data';

export const envText = (name: string, fallback: string): string => process.env[name] ?? fallback;

export function envNumber(name: string, fallback: number): number {
  const v = Number(envText(name, String(fallback)));
  if (!Number.isFinite(v)) throw new Error(`${name}: not a number`);
  return v;
}

/** Evaluation points in training seconds: the listed ones below `seconds`, and `seconds` itself. */
export function envCheckpoints(name: string, fallback: string, seconds: number): number[] {
  const listed = envText(name, fallback).split(',').filter(Boolean).map(Number).filter((c) => c < seconds);
  return [...new Set([...listed, seconds])].sort((a, b) => a - b);
}

export function envPreset(name: string): keyof typeof SHAPES_PRESETS {
  const preset = envText(name, 'standard') as keyof typeof SHAPES_PRESETS;
  if (!(preset in SHAPES_PRESETS)) throw new Error(`${name}: one of ${Object.keys(SHAPES_PRESETS).join(', ')}`);
  return preset;
}
