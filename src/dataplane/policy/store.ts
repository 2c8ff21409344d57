// Where the policy model comes from. The sidecar sees only the PolicyStore interface — a current
// snapshot plus a stream of changes — so an etcd-backed store can replace the file store later.
import { type FSWatcher, readdirSync, readFileSync, statSync, watch } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BehaviorSubject, type Observable, Subject } from 'rxjs';
import { distinctUntilChanged, filter, map } from 'rxjs/operators';
import {
  emptyModel,
  loadPolicyModel,
  type PolicyModel,
  type PolicySourceText,
  PolicyValidationError,
  type Rule,
} from './model.ts';

export interface PolicyStore {
  /** The latest valid model. */
  snapshot(): PolicyModel;
  /** Emits each new valid model (the current one first on subscription). */
  readonly models: Observable<PolicyModel>;
  /** Emits validation or read errors; the store keeps serving the last valid model meanwhile. */
  readonly errors: Observable<Error>;
  start(): Promise<void>;
  stop(): void;
}

/** A store whose model is set by code: tests, benchmarks, and an embedding daemon. */
export class MemoryPolicyStore implements PolicyStore {
  private readonly subject: BehaviorSubject<PolicyModel>;
  private readonly errorSubject = new Subject<Error>();
  readonly models: Observable<PolicyModel>;
  readonly errors: Observable<Error> = this.errorSubject.asObservable();
  constructor(model: PolicyModel = emptyModel()) {
    this.subject = new BehaviorSubject(model);
    this.models = this.subject.asObservable();
  }
  snapshot(): PolicyModel {
    return this.subject.value;
  }
  set(model: PolicyModel): void {
    this.subject.next(model);
  }
  async start(): Promise<void> {}
  stop(): void {
    this.subject.complete();
    this.errorSubject.complete();
  }
}

const isPolicyFile = (name: string): boolean => /\.ya?ml$/i.test(name) && !name.startsWith('.');

/** Reads a policy file, or every `*.yaml`/`*.yml` file of a directory in name order. */
export function readPolicySources(path: string): PolicySourceText[] {
  const st = statSync(path);
  if (!st.isDirectory()) return [{ file: path, text: readFileSync(path, 'utf8') }];
  return readdirSync(path)
    .filter(isPolicyFile)
    .sort()
    .map((f) => join(path, f))
    .filter((f) => statSync(f).isFile())
    .map((f) => ({ file: f, text: readFileSync(f, 'utf8') }));
}

export function loadPolicyPath(path: string): PolicyModel {
  return loadPolicyModel(readPolicySources(path));
}

/**
 * A YAML file or a directory of them, watched for changes. Editors and config managers replace
 * files by rename, so the directory is watched (the file's parent for a single file), and bursts of
 * events are debounced into one reload. A reload that fails validation is reported on `errors`
 * and the previous model stays in force, as BIRD and Felix keep their old config on a bad one.
 */
export class FilePolicyStore implements PolicyStore {
  private readonly subject = new BehaviorSubject<{ model: PolicyModel; text: string } | undefined>(undefined);
  private readonly errorSubject = new Subject<Error>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  readonly models: Observable<PolicyModel>;
  readonly errors: Observable<Error> = this.errorSubject.asObservable();

  constructor(
    readonly path: string,
    private readonly debounceMs = 150,
  ) {
    this.models = this.subject.pipe(
      filter((v): v is { model: PolicyModel; text: string } => v !== undefined),
      distinctUntilChanged((a, b) => a.text === b.text),
      map((v) => v.model),
    );
  }

  snapshot(): PolicyModel {
    return this.subject.value?.model ?? emptyModel();
  }

  /** Loads once (throwing on an invalid model, so a daemon refuses to start on bad input) and watches. */
  async start(): Promise<void> {
    const sources = readPolicySources(this.path);
    this.subject.next({ model: loadPolicyModel(sources), text: fingerprint(sources) });
    const isDir = statSync(this.path).isDirectory();
    const dir = isDir ? this.path : dirname(this.path);
    const base = basename(this.path);
    this.watcher = watch(dir, (_event, file) => {
      if (!isDir && file !== null && file !== base) return;
      if (isDir && file !== null && !isPolicyFile(file)) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reload(), this.debounceMs);
    });
  }

  /** Re-reads the sources now; returns whether a new valid model was loaded. */
  reload(): boolean {
    try {
      const sources = readPolicySources(this.path);
      const text = fingerprint(sources);
      if (this.subject.value?.text === text) return false;
      const prev = this.subject.value?.model;
      const next = loadPolicyModel(sources);
      this.subject.next({ model: prev ? shareUnchanged(prev, next) : next, text });
      return true;
    } catch (err) {
      this.errorSubject.next(err instanceof Error ? err : new Error(String(err)));
      return false;
    }
  }

  stop(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.subject.complete();
    this.errorSubject.complete();
  }
}

/**
 * Reuses the previous model's objects for endpoints, policies, profiles, address sets and rule
 * lists that did not change, so the renderer's identity-keyed cache re-renders only what a file
 * edit actually touched — and an edit that touches only endpoints is rendered incrementally
 * (which needs the very same policy, profile and address-set objects).
 */
export function shareUnchanged(prev: PolicyModel, next: PolicyModel): PolicyModel {
  const eps = new Map(prev.endpoints.map((e) => [e.name, e]));
  const sets = new Map(prev.addressSets.map((a) => [a.name, a]));
  const endpoints = next.endpoints.map((e) => {
    const old = eps.get(e.name);
    return old && JSON.stringify(old) === JSON.stringify(e) ? old : e;
  });
  const share = <T extends { name: string; ingress: Rule[]; egress: Rule[] }>(olds: T[], news: T[]): T[] => {
    const byName = new Map(olds.map((o) => [o.name, o]));
    return news.map((n) => {
      const o = byName.get(n.name);
      if (!o) return n;
      if (JSON.stringify(o) === JSON.stringify(n)) return o;
      const ingress = JSON.stringify(o.ingress) === JSON.stringify(n.ingress) ? o.ingress : n.ingress;
      const egress = JSON.stringify(o.egress) === JSON.stringify(n.egress) ? o.egress : n.egress;
      return { ...n, ingress, egress };
    });
  };
  return {
    endpoints,
    policies: share(prev.policies, next.policies),
    profiles: share(prev.profiles, next.profiles),
    addressSets: next.addressSets.map((a) => {
      const o = sets.get(a.name);
      return o && JSON.stringify(o) === JSON.stringify(a) ? o : a;
    }),
    // Tiers are compared by value by the renderer; they only need to be carried over.
    ...(next.tiers ? { tiers: next.tiers } : {}),
  };
}

const fingerprint = (sources: readonly PolicySourceText[]): string =>
  sources.map((s) => `${s.file}\0${s.text}`).join('\0\0');

export { PolicyValidationError };
