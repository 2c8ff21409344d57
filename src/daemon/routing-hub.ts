// The daemon-lifetime side of the FibFeed / OriginationSink seam (fib-feed.ts). The routing engine
// lives as long as its speaker (a change of AS or router-id replaces both); the extensions hold
// this hub instead, which forwards to whichever engine is current, keeps the originated routes
// of every source across engine replacements, and keeps the feed's subscribers.
import { type Observable, Subject, type Subscription } from 'rxjs';
import type { OriginatedRoute } from '../bgp/session/types.ts';
import type { ExtensionContext, FibBatch, FibFeed, FibRoute, OriginationSink } from './fib-feed.ts';

/** What the hub needs of a routing engine. */
export interface RoutingEndpoint {
  readonly fibChanges: Observable<FibBatch>;
  /** Set by the hub: whether FIB batches have a consumer at all. */
  fibWanted: () => boolean;
  fibSnapshot(): FibRoute[];
  initialComplete(): boolean;
  setOriginated(source: string, routes: readonly OriginatedRoute[]): void;
  expectOrigination(source: string): void;
}

export class RoutingHub implements FibFeed, OriginationSink, ExtensionContext {
  private readonly subject = new Subject<FibBatch>();
  readonly changes: Observable<FibBatch> = this.subject.asObservable();
  private engine: RoutingEndpoint | null = null;
  private engineSub: Subscription | null = null;
  /** Routes of every source but the config's (the engine takes those from its config). */
  private readonly sources = new Map<string, readonly OriginatedRoute[]>();
  /** Sources declared with expect() that have not delivered their first list yet. */
  private readonly expected = new Set<string>();

  get fib(): FibFeed {
    return this;
  }

  get origination(): OriginationSink {
    return this;
  }

  /**
   * Makes `engine` the current one (null: none, e.g. while the speaker restarts). A replaced
   * engine's table is gone: the consumer gets a batch removing what it had and adding the new
   * engine's table, so it never has to know that the engine changed.
   */
  attach(engine: RoutingEndpoint | null): void {
    const before = this.engine?.fibSnapshot() ?? [];
    this.engineSub?.unsubscribe();
    this.engineSub = null;
    this.engine = engine;
    if (engine === null) {
      if (before.length > 0)
        this.subject.next({ upserts: [], removals: before.map((r) => r.prefix), initialComplete: false });
      return;
    }
    for (const source of this.expected) engine.expectOrigination(source);
    for (const [source, routes] of this.sources) engine.setOriginated(source, routes);
    engine.fibWanted = () => this.subject.observed;
    this.engineSub = engine.fibChanges.subscribe((b) => this.subject.next(b));
    const now = engine.fibSnapshot();
    const present = new Set(now.map((r) => r.prefix));
    const removals = before.map((r) => r.prefix).filter((p) => !present.has(p));
    if (removals.length > 0 || now.length > 0)
      this.subject.next({ upserts: now, removals, initialComplete: engine.initialComplete() });
  }

  snapshot(): FibRoute[] {
    return this.engine?.fibSnapshot() ?? [];
  }

  initialComplete(): boolean {
    return this.engine?.initialComplete() ?? false;
  }

  /** Declares that `source` will call setOriginated (see RoutingEngine.expectOrigination). */
  expect(source: string): void {
    if (source === 'config') throw new Error("the origination source name 'config' is reserved");
    this.expected.add(source);
    this.engine?.expectOrigination(source);
  }

  setOriginated(source: string, routes: readonly OriginatedRoute[]): void {
    if (source === 'config') throw new Error("the origination source name 'config' is reserved");
    this.expected.delete(source);
    if (routes.length === 0) this.sources.delete(source);
    else this.sources.set(source, [...routes]);
    this.engine?.setOriginated(source, routes);
  }

  /** The routes a source originates now (for tests and `show`). */
  originated(source: string): readonly OriginatedRoute[] {
    return this.sources.get(source) ?? [];
  }

  close(): void {
    this.engineSub?.unsubscribe();
    this.subject.complete();
  }
}
