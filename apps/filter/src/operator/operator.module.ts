import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { AdminTokenGuard } from '../admin/admin-token.guard';
import { RefusalsModule } from '../refusals/refusals.module';
import { RoutingModule } from '../routing/routing.module';
import { RulesController } from '../routing/rules.controller';
import { TailCapacityMiddleware } from '../tail/tail-capacity.middleware';
import { TailController } from '../tail/tail.controller';
import { TailService } from '../tail/tail.service';

/** The operator endpoints behind the admin token: `GET/PUT /rules` and the `/tail` stream (capped). */
@Module({
  imports: [RoutingModule, RefusalsModule],
  controllers: [RulesController, TailController],
  providers: [AdminTokenGuard, TailService],
  exports: [TailService],
})
export class OperatorModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(TailCapacityMiddleware).forRoutes('tail');
  }
}
