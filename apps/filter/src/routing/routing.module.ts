import { Module } from '@nestjs/common';
import { RulesService } from './rules.service';

/** The rule set in force: from the rules file, the threshold, or `PUT /rules`. */
@Module({ providers: [RulesService], exports: [RulesService] })
export class RoutingModule {}
