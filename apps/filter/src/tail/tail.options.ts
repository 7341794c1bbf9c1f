/** `/tail` streams open at once, at most (FILTER_TAIL_MAX_CLIENTS). */
export interface TailOptions {
  readonly maxClients: number;
}

export const TAIL_OPTIONS = Symbol('TAIL_OPTIONS');
