// Type tests of the `metrics` option and of the diagnostics channels' payloads.
import Fastify from 'fastify'
import { expectTypeOf } from 'expect-type'
import { Registry, register } from 'prom-client'
import fastifyCollab, {
  channelNames, type HookTrace, type LimitName, type MetricsOptions, type StoreTrace, type UpgradeEvent
} from 'fastify-collab'

const app = Fastify()
await app.register(fastifyCollab, { metrics: true })
await app.register(fastifyCollab, { metrics: { registry: new Registry() } })
await app.register(fastifyCollab, { metrics: { registry: register } })
await app.register(fastifyCollab, { metrics: {} })
// @ts-expect-error: a boolean or { registry }
await app.register(fastifyCollab, { metrics: 'prometheus' })
// @ts-expect-error: a prom-client Registry
const wrong: MetricsOptions = { registry: {} }
expectTypeOf(wrong).toEqualTypeOf<MetricsOptions>()

expectTypeOf(channelNames.hook).toEqualTypeOf<'fastify-collab:hook'>()
expectTypeOf(channelNames.store).toEqualTypeOf<'fastify-collab:store'>()
expectTypeOf<UpgradeEvent['statusCode']>().toEqualTypeOf<number>()
expectTypeOf<HookTrace['documentName']>().toEqualTypeOf<string | undefined>()
expectTypeOf<StoreTrace['operation']>().toEqualTypeOf<'load' | 'claim' | 'append' | 'compact'>()
expectTypeOf<'maxBufferedAmount'>().toMatchTypeOf<LimitName>()
