/**
 * Where a server keeps its items. The node talks only to this interface; the
 * in-memory store is the original's behaviour, and a durable store implements
 * the same methods.
 */
import type { Encoding } from '../protocol/messages.js';

export interface StoredItem {
  content: string;
  encoding?: Encoding | undefined;
}

export interface ItemStore {
  get(name: string): Promise<StoredItem | undefined>;
  put(name: string, item: StoredItem): Promise<void>;
  /** The names held, in no particular order. */
  names(): Promise<string[]>;
  close(): Promise<void>;
}

export class MemoryStore implements ItemStore {
  private readonly items = new Map<string, StoredItem>();

  async get(name: string): Promise<StoredItem | undefined> {
    return this.items.get(name);
  }

  async put(name: string, item: StoredItem): Promise<void> {
    this.items.set(name, { content: item.content, encoding: item.encoding });
  }

  async names(): Promise<string[]> {
    return [...this.items.keys()];
  }

  async close(): Promise<void> {}
}
