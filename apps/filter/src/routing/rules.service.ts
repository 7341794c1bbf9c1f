import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { ConfigError } from '@dataflow/config';
import { DataflowMetrics } from '@dataflow/observability';
import { CompiledRuleSet, parseRuleSet, RuleSetError, thresholdRuleSet } from './rule-set';
import { RULES_OPTIONS, type RulesOptions } from './rules.options';

export type RulesOrigin = 'threshold' | 'file' | 'api';

export interface ActiveRules {
  readonly rules: CompiledRuleSet;
  readonly origin: RulesOrigin;
  readonly appliedAt: string;
}

/**
 * Owns the routing rule set in force. It starts as the rules file (FILTER_RULES_FILE), or the
 * threshold rule when there is none, and changes when the file changes or `PUT /rules` sends a new
 * set; whichever comes last wins. A new set is checked in full before it takes effect, and is then
 * swapped in as one reference: the pipeline reads {@link current} once per frame, so every frame is
 * routed by exactly one rule set. A refused set leaves the old one in force. A change through the
 * API lives until the next change or restart; to keep it, put it in the rules file.
 */
@Injectable()
export class RulesService implements OnModuleDestroy {
  private readonly logger = new Logger(RulesService.name);
  private readonly file: string | undefined;
  private active: ActiveRules;

  constructor(
    @Inject(RULES_OPTIONS) options: RulesOptions,
    private readonly metrics: DataflowMetrics,
  ) {
    this.file = options.file;
    if (this.file === undefined) {
      this.active = this.stamp(thresholdRuleSet(options.threshold), 'threshold');
    } else {
      // A bad file at start stops the filter: routing by guesswork is worse than not starting. The
      // environment check (filter.config.ts) refused it already with one line; this catches a file
      // that changed in between.
      try {
        this.active = this.stamp(this.readFile(this.file), 'file');
      } catch (error) {
        throw new ConfigError(`FILTER_RULES_FILE: ${error instanceof Error ? error.message : String(error)}`);
      }
      watchFile(this.file, { interval: options.pollMs, persistent: false }, (now, before) =>
        this.onFileChange(now, before),
      );
    }
    this.announce();
  }

  onModuleDestroy(): void {
    if (this.file !== undefined) unwatchFile(this.file);
  }

  /** The rule set routing records now. */
  get current(): CompiledRuleSet {
    return this.active.rules;
  }

  get state(): ActiveRules {
    return this.active;
  }

  /** Checks and applies a rule set sent to the API; throws RuleSetError (nothing changes) if it is bad. */
  applyFromApi(input: unknown): ActiveRules {
    let rules: CompiledRuleSet;
    try {
      rules = parseRuleSet(typeof input === 'string' ? input : JSON.stringify(input));
    } catch (error) {
      this.refused('api', error);
      throw error;
    }
    this.apply(rules, 'api');
    return this.active;
  }

  private onFileChange(now: Stats, before: Stats): void {
    if (this.file === undefined) return;
    if (now.mtimeMs === before.mtimeMs && now.ino === before.ino && now.size === before.size) return;
    if (now.nlink === 0 && now.size === 0) {
      this.logger.warn(`rules file ${this.file} disappeared; the rule set in force stays`);
      return;
    }
    let rules: CompiledRuleSet;
    try {
      rules = this.readFile(this.file);
    } catch (error) {
      this.refused('file', error);
      return;
    }
    if (rules.version === this.active.rules.version) return;
    this.apply(rules, 'file');
  }

  private readFile(file: string): CompiledRuleSet {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new RuleSetError([`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`]);
    }
    return parseRuleSet(text);
  }

  private apply(rules: CompiledRuleSet, origin: 'file' | 'api'): void {
    const previous = this.active.rules.version;
    this.active = this.stamp(rules, origin);
    this.metrics.rulesReload(origin, 'applied');
    this.announce(previous);
  }

  private refused(origin: 'file' | 'api', error: unknown): void {
    this.metrics.rulesReload(origin, 'refused');
    const problems = error instanceof RuleSetError ? error.problems : [String(error)];
    this.logger.error(
      { origin, problems, rulesVersion: this.active.rules.version },
      `rule set from ${origin} refused, version ${this.active.rules.version} stays in force`,
    );
  }

  private stamp(rules: CompiledRuleSet, origin: RulesOrigin): ActiveRules {
    return { rules, origin, appliedAt: new Date().toISOString() };
  }

  private announce(previous?: string): void {
    const { rules, origin } = this.active;
    this.metrics.rulesActive(rules.version, rules.name);
    this.logger.log(
      { rulesVersion: rules.version, rulesName: rules.name, origin, previousVersion: previous },
      `routing by rule set ${rules.name} version ${rules.version} (from ${origin})`,
    );
  }
}
