/** kafkajs's per-connection request queue (CommonJS, untyped): only what request-queue-fix.ts touches. */
declare module 'kafkajs/src/network/requestQueue/index.js' {
  const RequestQueue: { prototype: object; new (options: Record<string, unknown>): object };
  export default RequestQueue;
}
