// A registry: the one list of the names an extension point knows (optimizers, losses, metrics,
// layers, callbacks), so option checks and "unknown x" messages derive from what is registered.

export class Registry<T> {
  private readonly entries = new Map<string, T>();

  /** `kind` names the extension point in messages ("unknown loss 'x'"). */
  constructor(readonly kind: string) {}

  /** Registers `value` under `name`; a name is registered once. */
  add(name: string, value: T): this {
    if (this.entries.has(name)) throw new Error(`a ${this.kind} named '${name}' is already registered`);
    this.entries.set(name, value);
    return this;
  }

  get names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The entry named `name`; otherwise an Error naming `where`, the name and every known one. */
  get(name: string, where: string, alternatives = ''): T {
    const value = this.entries.get(name);
    if (value !== undefined) return value;
    throw new Error(`${where}: unknown ${this.kind} '${name}'; expected ${alternatives}one of ${this.names.map((n) => `'${n}'`).join(', ')}`);
  }
}
