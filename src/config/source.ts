// Where configuration comes from. The daemon depends on this interface only, so a later etcd
// source (a watch on a key prefix, as Calico's confd) slots in beside the file source.
import { Observable } from 'rxjs';
import { type LoadOptions, loadConfigFile } from './loader.ts';
import type { Config } from './types.ts';

export interface ConfigSource {
  /** A human-readable name for logs: the file path, or the etcd endpoint and key. */
  readonly description: string;
  /** Loads and validates the current config; rejects with ConfigError listing every problem. */
  load(): Promise<Config>;
  /**
   * Emits when the source has (or may have) changed and the daemon should reload. A file source
   * emits on request (SIGHUP, `tsbgp reload`); a datastore source emits on its own watches.
   */
  readonly changes: Observable<ChangeNotice>;
}

export interface ChangeNotice {
  reason: string;
}

/** A YAML file on disk. Changes are signalled by the daemon (SIGHUP), not by watching the file. */
export class FileConfigSource implements ConfigSource {
  readonly description: string;
  readonly changes: Observable<ChangeNotice>;
  private readonly subscribers = new Set<(n: ChangeNotice) => void>();

  constructor(
    readonly path: string,
    private readonly options: LoadOptions = {},
  ) {
    this.description = path;
    this.changes = new Observable<ChangeNotice>((sub) => {
      const fn = (n: ChangeNotice) => sub.next(n);
      this.subscribers.add(fn);
      return () => this.subscribers.delete(fn);
    });
  }

  load(): Promise<Config> {
    return loadConfigFile(this.path, this.options);
  }

  /** Tells subscribers to reload (used for SIGHUP). */
  notify(reason: string): void {
    for (const fn of this.subscribers) fn({ reason });
  }
}
