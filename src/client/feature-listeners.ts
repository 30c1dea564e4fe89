import { safeCall } from "./emitter.ts";
import type { FeatureServerFrames } from "./feature-frames.ts";

/**
 * Listeners of the features' server frames (typing, read, inbox, status…)
 * by their `t`. A frame of a type nobody listens to is dropped.
 */
export class FeatureListeners {
  private readonly byType = new Map<string, Set<(f: never) => void>>();

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof FeatureServerFrames>(t: K, listener: (f: FeatureServerFrames[K]) => void): () => void {
    let set = this.byType.get(t);
    if (!set) this.byType.set(t, (set = new Set()));
    set.add(listener as (f: never) => void);
    return () => set.delete(listener as (f: never) => void);
  }

  /** A frame no other part of the client handles: its fields without `t` go to the listeners of its type. */
  dispatch(f: { t: string }): void {
    const { t, ...event } = f;
    const set = this.byType.get(t);
    if (set) for (const listener of [...set]) safeCall(listener as (x: unknown) => void, event);
  }
}
