import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  PreconditionFailedException,
  Put,
  UseGuards,
} from '@nestjs/common';
import { AdminTokenGuard } from '../admin/admin-token.guard';
import type { RuleSetDocument } from './rule-set';
import { RuleSetError } from './rule-set';
import { ActiveRules, RulesService } from './rules.service';

interface RulesView {
  readonly version: string;
  readonly name: string;
  readonly origin: ActiveRules['origin'];
  readonly appliedAt: string;
  readonly ruleSet: RuleSetDocument;
}

/**
 * `GET /rules`: the rule set in force. `PUT /rules` with a rule set as the JSON body: checked in full,
 * then in force from the next frame on (200 with the new version), or refused with 400 and every
 * problem listed, the old set staying in force. `If-Match: <version>` makes the change conditional
 * on the set in force (412 otherwise), so two operators cannot overwrite each other unnoticed.
 */
@Controller('rules')
@UseGuards(AdminTokenGuard)
export class RulesController {
  constructor(private readonly rules: RulesService) {}

  @Get()
  current(): RulesView {
    return view(this.rules.state);
  }

  @Put()
  @HttpCode(200)
  replace(@Body() body: unknown, @Headers('if-match') ifMatch?: string): RulesView {
    const expected = ifMatch?.replace(/^W\//, '').replace(/"/g, '').trim();
    if (expected && expected !== this.rules.current.version) {
      throw new PreconditionFailedException(
        `rule set in force is version ${this.rules.current.version}, not ${expected}; GET /rules and retry`,
      );
    }
    try {
      return view(this.rules.applyFromApi(body ?? null));
    } catch (error) {
      if (error instanceof RuleSetError) {
        throw new BadRequestException({ statusCode: 400, error: 'Invalid rule set', problems: error.problems });
      }
      throw error;
    }
  }
}

function view(active: ActiveRules): RulesView {
  return {
    version: active.rules.version,
    name: active.rules.name,
    origin: active.origin,
    appliedAt: active.appliedAt,
    ruleSet: active.rules.document,
  };
}
