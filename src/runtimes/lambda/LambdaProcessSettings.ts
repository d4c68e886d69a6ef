// The Node options both Lambda functions run with (the stack's NODE_OPTIONS; the worker adds its own, ADR 19), also
// what `npm run bench:coldstart` starts each cold start with.

/**
 * Stack traces in the logs name the sources, not the bundle's minified positions. The price is on every cold
 * start: Effect reads an `Error().stack` while its modules load, and Node then parses the bundle's whole source
 * map (ADR 42 has the figures).
 */
export const LAMBDA_NODE_OPTIONS: ReadonlyArray<string> = ["--enable-source-maps"]
