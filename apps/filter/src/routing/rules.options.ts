/** Where the rule set in force comes from (FILTER_RULES_FILE, FILTER_THRESHOLD, FILTER_RULES_POLL_MS). */
export interface RulesOptions {
  /** A rules file that replaces the threshold rule and is reloaded on change. */
  readonly file: string | undefined;
  /** Without a file: records above this go to the queue, the others to the file sink. */
  readonly threshold: number;
  /** How often the file is checked for changes. */
  readonly pollMs: number;
}

export const RULES_OPTIONS = Symbol('RULES_OPTIONS');
