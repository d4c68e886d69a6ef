// A deterministic, lazily generated set of order lines: the same seed gives the same rows, in ordered_at order,
// without holding them in memory. Product names include commas, quotes, accents and a formula-like name so that
// every export exercises the CSV rules.
import type { MerchantId } from "../../domain/Identifiers.js"
import type { OrderStatus } from "../../domain/Reports.js"

export interface OrderLine {
  readonly merchantId: MerchantId
  readonly orderId: string
  readonly lineNumber: number
  /** Unix milliseconds, UTC. */
  readonly orderedAt: number
  readonly status: OrderStatus
  readonly customerId: string
  readonly productId: string
  readonly sku: string
  readonly productName: string
  readonly quantity: number
  readonly unitPriceCents: number
  readonly lineTotalCents: number
  readonly currency: string
}

export const PRODUCT_NAMES: ReadonlyArray<string> = [
  "Espresso beans, 1 kg",
  "Café crème \"House\" blend",
  "Pour-over kettle",
  "=SUM(A1:A9) mug",
  "Matcha 抹茶 tin",
  "Oat milk\nbarista edition",
  "@home filter papers",
  "-15% gift card",
  "Ceramic dripper",
  "Cold brew bottle"
]

const STATUSES: ReadonlyArray<OrderStatus> = [
  "delivered",
  "delivered",
  "delivered",
  "shipped",
  "paid",
  "placed",
  "refunded",
  "cancelled"
]

/** mulberry32: a tiny seeded generator, good enough for demo data and fully reproducible. */
const random = (seed: number) => {
  let state = seed >>> 0
  return (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const hash = (text: string): number => {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619)
  return h >>> 0
}

export interface DemoOrdersOptions {
  readonly merchantId: MerchantId
  /** How many order lines to generate for this merchant. */
  readonly lines: number
  /** First and last instant (Unix ms) that orders are spread over, evenly. */
  readonly from: number
  readonly to: number
  readonly seed?: number
}

export function* demoOrderLines(options: DemoOrdersOptions): Generator<OrderLine> {
  const next = random(hash(options.merchantId) ^ (options.seed ?? 1))
  const span = Math.max(0, options.to - options.from)
  let produced = 0
  let order = 0
  while (produced < options.lines) {
    order++
    const orderedAt = options.from + Math.floor((span * produced) / Math.max(1, options.lines))
    const linesInOrder = Math.min(options.lines - produced, 1 + Math.floor(next() * 3))
    const status = STATUSES[Math.floor(next() * STATUSES.length)]!
    const customerId = `C${String(1 + Math.floor(next() * 5000)).padStart(5, "0")}`
    for (let line = 1; line <= linesInOrder; line++) {
      const product = Math.floor(next() * PRODUCT_NAMES.length)
      const quantity = 1 + Math.floor(next() * 4)
      const unitPriceCents = 250 + product * 175
      produced++
      yield {
        merchantId: options.merchantId,
        orderId: `${options.merchantId}-${String(order).padStart(8, "0")}`,
        lineNumber: line,
        orderedAt,
        status,
        customerId,
        productId: `P${String(product + 1).padStart(3, "0")}`,
        sku: `SKU-${String(product + 1).padStart(3, "0")}`,
        productName: PRODUCT_NAMES[product]!,
        quantity,
        unitPriceCents,
        lineTotalCents: quantity * unitPriceCents,
        currency: "EUR"
      }
    }
  }
}
