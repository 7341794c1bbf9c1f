/** The operator endpoints' bearer token (FILTER_ADMIN_TOKEN); without one they are open. */
export interface AdminOptions {
  readonly token: string | undefined;
}

export const ADMIN_OPTIONS = Symbol('ADMIN_OPTIONS');
