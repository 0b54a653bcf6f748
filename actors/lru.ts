/** A small LRU map: the host keeps at most `max` runs in memory, however many wait for humans. */
export function createLru<K, V>(max: number) {
  const map = new Map<K, V>();
  return {
    get(key: K): V | undefined {
      const v = map.get(key);
      if (v !== undefined) {
        map.delete(key);
        map.set(key, v);
      }
      return v;
    },
    set(key: K, value: V): void {
      map.delete(key);
      map.set(key, value);
      while (map.size > max) {
        const oldest = map.keys().next();
        if (oldest.done) break;
        map.delete(oldest.value);
      }
    },
    delete(key: K): void {
      map.delete(key);
    },
    size: () => map.size,
  };
}
