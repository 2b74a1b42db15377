// tfjs-core's gradient functions (`register_all_gradients`) are not in its Node bundle: the full
// `@tensorflow/tfjs` package imports them from tfjs-core's ES module build, whose relative imports
// lack file extensions and so do not resolve under Node. A resolve hook, scoped to that folder,
// adds them; the ES module build then shares the engine and the registries with the Node bundle
// (tfjs-core keeps both on globalThis), so its gradients serve our tensors.
import { register } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';

const HOOK = `
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    if (!specifier.startsWith('.') || !/\\/@tensorflow\\/tfjs-core\\/dist\\//.test(context.parentURL ?? '')) throw error;
    try {
      return await next(specifier + '.js', context);
    } catch {
      return next(specifier + '/index.js', context);
    }
  }
}`;

let loaded: Promise<void> | undefined;

/** Registers tfjs-core's gradients once (a no-op when something already did, e.g. @tensorflow/tfjs). */
export function registerCoreGradients(): Promise<void> {
  loaded ??= (async () => {
    if (tf.getGradient('Conv2D') != null) return;
    register(`data:text/javascript,${encodeURIComponent(HOOK)}`);
    const specifier = '@tensorflow/tfjs-core/dist/register_all_gradients.js';
    await import(specifier);
    if (tf.getGradient('Conv2D') == null) throw new Error(`${specifier} loaded but registered no gradients`);
  })();
  return loaded;
}
