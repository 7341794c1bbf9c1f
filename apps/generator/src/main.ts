import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { computeHash } from '@dataflow/contracts';
@Module({})
class M {}
async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(M);
  console.log('hash', computeHash(1732500000000, 42));
  await app.close();
}
void bootstrap();
