/**
 * A map that keeps its first entry in two fields and makes a real Map only
 * for a second. Almost every socket serves one document, and a Map's hash
 * table (about 150 bytes) is a tenth of an idle connection's collab state.
 */
export class SmallMap<K, V> {
  private key: K | undefined
  private value: V | undefined
  private single = false
  private map: Map<K, V> | null = null

  get (key: K): V | undefined {
    if (this.map !== null) return this.map.get(key)
    return this.single && this.key === key ? this.value : undefined
  }

  set (key: K, value: V): void {
    if (this.map !== null) {
      this.map.set(key, value)
    } else if (!this.single || this.key === key) {
      this.key = key
      this.value = value
      this.single = true
    } else {
      this.map = new Map([[this.key as K, this.value as V], [key, value]])
      this.key = this.value = undefined
      this.single = false
    }
  }

  delete (key: K): void {
    if (this.map !== null) {
      this.map.delete(key)
    } else if (this.single && this.key === key) {
      this.key = this.value = undefined
      this.single = false
    }
  }

  /** The values, as a snapshot that stays valid while entries are deleted. */
  values (): V[] {
    if (this.map !== null) return [...this.map.values()]
    return this.single ? [this.value as V] : []
  }

  /** The entries, as a snapshot that stays valid while entries are deleted. */
  entries (): Array<[K, V]> {
    if (this.map !== null) return [...this.map]
    return this.single ? [[this.key as K, this.value as V]] : []
  }

  /** The number of entries. */
  size (): number {
    if (this.map !== null) return this.map.size
    return this.single ? 1 : 0
  }

  clear (): void {
    this.map = null
    this.key = this.value = undefined
    this.single = false
  }
}
