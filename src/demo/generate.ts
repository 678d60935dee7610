// Synthetic history of an online shop, as GA4 BigQuery-export rows (the NDJSON form of
// events_YYYYMMDD that `POST /audex/v1/properties/{p}:import` accepts; src/ingest/import/bigquery-row.ts).
// Deterministic: the same seed and `now` give the same rows. Devices arrive over the period, come
// back in later sessions (some across weeks), browse, search, add to cart, check out, purchase
// (some refund later); about 20% log in (user_id), some deny ads storage (privacy_info).

export interface ShopHistoryOptions {
  seed?: number;
  /** µs; the history ends a little before this. */
  nowMicros: bigint;
  days?: number;
  devices?: number;
  streamId: string;
  currency?: string;
}

export interface BqRow {
  event_date?: string;
  event_timestamp: string;
  event_name: string;
  event_params: {
    key: string;
    value: { string_value?: string; int_value?: string; double_value?: number };
  }[];
  user_pseudo_id: string;
  user_id?: string;
  stream_id: string;
  platform: 'WEB';
  device: Record<string, string>;
  geo: Record<string, string>;
  traffic_source: Record<string, string>;
  privacy_info?: { analytics_storage: 'Yes' | 'No'; ads_storage: 'Yes' | 'No' };
  ecommerce?: Record<string, string | number>;
  items?: Record<string, string | number>[];
}

/** mulberry32: small, fast, good enough for synthetic data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const SHOP_HOST = 'https://demo-shop.example';

interface Product {
  id: string;
  name: string;
  brand: string;
  category: string;
  price: number;
}

const CATEGORIES: { name: string; slug: string; products: [string, number][] }[] = [
  {
    name: 'Shoes',
    slug: 'shoes',
    products: [
      ['Trail Runner', 129],
      ['City Sneaker', 89],
      ['Leather Boot', 189],
      ['Canvas Slip-On', 49],
      ['Hiking Boot', 219],
      ['Running Pro', 159],
    ],
  },
  {
    name: 'Jackets',
    slug: 'jackets',
    products: [
      ['Rain Shell', 149],
      ['Down Parka', 279],
      ['Denim Jacket', 99],
      ['Softshell', 129],
      ['Wool Coat', 249],
    ],
  },
  {
    name: 'Shirts',
    slug: 'shirts',
    products: [
      ['Oxford Shirt', 59],
      ['Linen Shirt', 69],
      ['Basic Tee', 19],
      ['Polo', 39],
      ['Flannel Shirt', 49],
      ['Merino Tee', 79],
    ],
  },
  {
    name: 'Bags',
    slug: 'bags',
    products: [
      ['Daypack 20L', 89],
      ['Weekender', 169],
      ['Tote', 35],
      ['Messenger Bag', 119],
    ],
  },
  {
    name: 'Accessories',
    slug: 'accessories',
    products: [
      ['Beanie', 25],
      ['Wool Socks (3 pack)', 22],
      ['Leather Belt', 45],
      ['Sunglasses', 89],
      ['Scarf', 39],
      ['Gloves', 35],
    ],
  },
];
const BRANDS = ['Nordkap', 'Alpenglow', 'Urbanist', 'Fjell & Co'];

export const PRODUCTS: Product[] = CATEGORIES.flatMap((c, ci) =>
  c.products.map(([name, price], pi) => ({
    id: `SKU-${ci + 1}${String(pi + 1).padStart(2, '0')}`,
    name,
    brand: BRANDS[(ci + pi) % BRANDS.length]!,
    category: c.name,
    price,
  })),
);

const SEARCH_TERMS = [
  'boots',
  'rain jacket',
  'sneaker',
  'merino',
  'backpack',
  'gift',
  'sale',
  'linen',
  'parka',
  'socks',
  'waterproof',
  'leather',
];

type Weighted<T> = [T, number][];

const GEOS: Weighted<Record<string, string>> = [
  [
    {
      continent: 'Europe',
      sub_continent: 'Western Europe',
      country: 'Germany',
      country_id: 'DE',
      region: 'Berlin',
      city: 'Berlin',
    },
    16,
  ],
  [
    {
      continent: 'Europe',
      sub_continent: 'Western Europe',
      country: 'Germany',
      country_id: 'DE',
      region: 'Bavaria',
      city: 'Munich',
    },
    12,
  ],
  [
    {
      continent: 'Europe',
      sub_continent: 'Western Europe',
      country: 'Germany',
      country_id: 'DE',
      region: 'Hamburg',
      city: 'Hamburg',
    },
    9,
  ],
  [
    {
      continent: 'Europe',
      sub_continent: 'Western Europe',
      country: 'Germany',
      country_id: 'DE',
      region: 'North Rhine-Westphalia',
      city: 'Cologne',
    },
    9,
  ],
  [
    {
      continent: 'Europe',
      sub_continent: 'Western Europe',
      country: 'Austria',
      country_id: 'AT',
      region: 'Vienna',
      city: 'Vienna',
    },
    10,
  ],
  [
    {
      continent: 'Europe',
      sub_continent: 'Western Europe',
      country: 'Switzerland',
      country_id: 'CH',
      region: 'Zurich',
      city: 'Zurich',
    },
    8,
  ],
  [
    {
      continent: 'Europe',
      sub_continent: 'Western Europe',
      country: 'Netherlands',
      country_id: 'NL',
      region: 'North Holland',
      city: 'Amsterdam',
    },
    7,
  ],
  [
    {
      continent: 'Europe',
      sub_continent: 'Western Europe',
      country: 'France',
      country_id: 'FR',
      region: 'Ile-de-France',
      city: 'Paris',
    },
    6,
  ],
  [
    {
      continent: 'Europe',
      sub_continent: 'Northern Europe',
      country: 'United Kingdom',
      country_id: 'GB',
      region: 'England',
      city: 'London',
    },
    5,
  ],
  [
    {
      continent: 'Americas',
      sub_continent: 'Northern America',
      country: 'United States',
      country_id: 'US',
      region: 'New York',
      city: 'New York',
    },
    4,
  ],
];

const DEVICES: Weighted<Record<string, string>> = [
  [
    {
      category: 'desktop',
      operating_system: 'Windows',
      operating_system_version: 'Windows 11',
      browser: 'Chrome',
      browser_version: '131.0',
      language: 'de-de',
    },
    22,
  ],
  [
    {
      category: 'desktop',
      operating_system: 'Macintosh',
      operating_system_version: 'Macintosh 14.6',
      browser: 'Safari',
      browser_version: '18.1',
      language: 'de-de',
    },
    10,
  ],
  [
    {
      category: 'desktop',
      operating_system: 'Windows',
      operating_system_version: 'Windows 10',
      browser: 'Firefox',
      browser_version: '133.0',
      language: 'en-us',
    },
    6,
  ],
  [
    {
      category: 'desktop',
      operating_system: 'Windows',
      operating_system_version: 'Windows 11',
      browser: 'Edge',
      browser_version: '131.0',
      language: 'de-de',
    },
    5,
  ],
  [
    {
      category: 'mobile',
      operating_system: 'iOS',
      operating_system_version: 'iOS 18.1',
      browser: 'Safari',
      browser_version: '18.1',
      language: 'de-de',
      mobile_brand_name: 'Apple',
      mobile_model_name: 'iPhone',
    },
    25,
  ],
  [
    {
      category: 'mobile',
      operating_system: 'Android',
      operating_system_version: 'Android 14',
      browser: 'Chrome',
      browser_version: '131.0',
      language: 'de-de',
      mobile_brand_name: 'Samsung',
      mobile_model_name: 'Galaxy S23',
    },
    20,
  ],
  [
    {
      category: 'tablet',
      operating_system: 'iOS',
      operating_system_version: 'iPadOS 17.5',
      browser: 'Safari',
      browser_version: '17.5',
      language: 'de-de',
      mobile_brand_name: 'Apple',
      mobile_model_name: 'iPad',
    },
    6,
  ],
];

const TRAFFIC: Weighted<Record<string, string>> = [
  [{ source: 'google', medium: 'organic', name: '(organic)' }, 38],
  [{ source: '(direct)', medium: '(none)', name: '(direct)' }, 24],
  [{ source: 'google', medium: 'cpc', name: 'brand_search' }, 14],
  [{ source: 'newsletter', medium: 'email', name: 'winter_sale' }, 10],
  [{ source: 'instagram', medium: 'social', name: 'autumn_collection' }, 9],
  [{ source: 'bing', medium: 'organic', name: '(organic)' }, 5],
];

interface Device {
  id: string;
  userId: string | null;
  /** Session number after which user_id is set (login). */
  loginFromSession: number;
  adsDenied: boolean;
  device: Record<string, string>;
  geo: Record<string, string>;
  traffic: Record<string, string>;
  /** 0..1: how likely this visitor is to buy. */
  intent: number;
}

export class ShopHistory {
  private readonly rnd: () => number;
  private readonly now: number; // ms
  private readonly start: number; // ms
  private txn = 0;
  private readonly currency: string;
  /** Devices generated, for the demo's recent MP traffic. */
  readonly devices: Device[] = [];

  constructor(private readonly opts: ShopHistoryOptions) {
    this.rnd = prng(opts.seed ?? 20240601);
    this.now = Number(opts.nowMicros / 1000n) - 2 * 3_600_000; // history ends 2 h ago
    this.start = this.now - (opts.days ?? 35) * 86_400_000;
    this.currency = opts.currency ?? 'EUR';
  }

  private pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.rnd() * list.length)]!;
  }

  private weighted<T>(list: Weighted<T>): T {
    const total = list.reduce((s, [, w]) => s + w, 0);
    let r = this.rnd() * total;
    for (const [v, w] of list) {
      r -= w;
      if (r < 0) return v;
    }
    return list[list.length - 1]![0];
  }

  private chance(p: number): boolean {
    return this.rnd() < p;
  }

  /** Exponential with the given mean. */
  private exp(mean: number): number {
    return -Math.log(1 - this.rnd()) * mean;
  }

  /** Every row, device by device (each device's rows in time order). */
  *generate(): Generator<BqRow> {
    const n = this.opts.devices ?? 2500;
    for (let i = 0; i < n; i++) {
      // Arrivals spread over the period, a bit more recently (growing shop).
      const firstVisit = this.start + Math.sqrt(this.rnd()) * (this.now - this.start - 600_000);
      const dev: Device = {
        id: `${1_000_000_000 + Math.floor(this.rnd() * 8_999_999_999)}.${Math.floor(firstVisit / 1000)}`,
        userId: this.chance(0.25) ? `cust-${String(10000 + i)}` : null,
        loginFromSession: 1 + Math.floor(this.rnd() * 2),
        adsDenied: this.chance(0.18),
        device: { ...this.weighted(DEVICES), is_limited_ad_tracking: 'No' },
        geo: this.weighted(GEOS),
        traffic: this.weighted(TRAFFIC),
        intent: this.rnd() ** 1.6,
      };
      this.devices.push(dev);
      yield* this.deviceHistory(dev, firstVisit);
    }
  }

  private *deviceHistory(dev: Device, firstVisit: number): Generator<BqRow> {
    // Returning visitors: loyal ones come back every ~2 days, others rarely.
    const loyal = this.chance(0.3);
    const meanGapMs = (loyal ? 2 : 7) * 86_400_000;
    const continueP = loyal ? 0.85 : 0.35;
    let t = firstVisit;
    let sessionNumber = 0;
    const refunds: BqRow[] = [];
    while (t < this.now && sessionNumber < 25) {
      sessionNumber++;
      yield* this.session(dev, t, sessionNumber, refunds);
      if (!this.chance(continueP)) break;
      t += 3_600_000 + this.exp(meanGapMs);
    }
    for (const r of refunds) if (Number(BigInt(r.event_timestamp) / 1000n) < this.now) yield r;
  }

  private base(dev: Device, name: string, ts: number, sessionId: number, sessionNumber: number): BqRow {
    const loggedIn = dev.userId !== null && sessionNumber >= dev.loginFromSession;
    return {
      event_timestamp: String(Math.floor(ts) * 1000),
      event_name: name,
      event_params: [
        { key: 'ga_session_id', value: { int_value: String(sessionId) } },
        { key: 'ga_session_number', value: { int_value: String(sessionNumber) } },
        { key: 'engagement_time_msec', value: { int_value: String(500 + Math.floor(this.rnd() * 20000)) } },
      ],
      user_pseudo_id: dev.id,
      ...(loggedIn ? { user_id: dev.userId! } : {}),
      stream_id: this.opts.streamId,
      platform: 'WEB',
      device: dev.device,
      geo: dev.geo,
      traffic_source: dev.traffic,
      ...(dev.adsDenied ? { privacy_info: { analytics_storage: 'Yes', ads_storage: 'No' } } : {}),
    };
  }

  private page(row: BqRow, path: string, title: string): BqRow {
    row.event_params.push(
      { key: 'page_location', value: { string_value: SHOP_HOST + path } },
      { key: 'page_title', value: { string_value: `${title} | Demo shop` } },
    );
    return row;
  }

  private item(p: Product, quantity = 1): Record<string, string | number> {
    return {
      item_id: p.id,
      item_name: p.name,
      item_brand: p.brand,
      item_category: p.category,
      price: p.price,
      quantity,
    };
  }

  private *session(dev: Device, start: number, sessionNumber: number, refunds: BqRow[]): Generator<BqRow> {
    const sid = Math.floor(start / 1000);
    let t = start;
    const step = () => (t += 5_000 + this.exp(40_000));
    const ev = (name: string, path: string, title: string) =>
      this.page(this.base(dev, name, t, sid, sessionNumber), path, title);

    // Landing page
    const landing = this.chance(0.5) ? null : this.pick(CATEGORIES);
    if (landing) {
      yield ev('page_view', `/c/${landing.slug}`, landing.name);
    } else yield ev('page_view', '/', 'Home');
    if (sessionNumber === 1) {
      yield ev('first_visit', landing ? `/c/${landing.slug}` : '/', landing?.name ?? 'Home');
    }
    yield ev('session_start', landing ? `/c/${landing.slug}` : '/', landing?.name ?? 'Home');
    if (this.chance(0.2)) return; // bounce

    const cart: Product[] = [];
    const browses = 1 + Math.floor(this.exp(1.5 + 3 * dev.intent));
    for (let b = 0; b < browses && t < this.now; b++) {
      let candidates: Product[];
      if (this.chance(0.25)) {
        const term = this.pick(SEARCH_TERMS);
        step();
        const path = `/search?q=${encodeURIComponent(term)}`;
        yield ev('page_view', path, `Search: ${term}`);
        const s = ev('search', path, `Search: ${term}`);
        s.event_params.push({ key: 'search_term', value: { string_value: term } });
        yield s;
        candidates = PRODUCTS.filter((_, i) => (i + term.length) % 3 === 0);
      } else {
        const cat = landing && b === 0 ? landing : this.pick(CATEGORIES);
        step();
        yield ev('page_view', `/c/${cat.slug}`, cat.name);
        const l = ev('view_item_list', `/c/${cat.slug}`, cat.name);
        l.event_params.push(
          { key: 'item_list_id', value: { string_value: cat.slug } },
          { key: 'item_list_name', value: { string_value: cat.name } },
        );
        candidates = PRODUCTS.filter((p) => p.category === cat.name);
        l.items = candidates
          .slice(0, 4)
          .map((p, idx) => ({ ...this.item(p), item_list_index: String(idx + 1) }));
        yield l;
      }
      if (!this.chance(0.55 + 0.3 * dev.intent)) continue;
      const product = this.pick(candidates);
      step();
      const path = `/p/${product.id.toLowerCase()}`;
      yield ev('page_view', path, product.name);
      const v = ev('view_item', path, product.name);
      v.event_params.push(
        { key: 'currency', value: { string_value: this.currency } },
        { key: 'value', value: { double_value: product.price } },
      );
      v.items = [this.item(product)];
      yield v;
      if (this.chance(0.15 + 0.45 * dev.intent)) {
        step();
        const a = ev('add_to_cart', path, product.name);
        a.event_params.push(
          { key: 'currency', value: { string_value: this.currency } },
          { key: 'value', value: { double_value: product.price } },
        );
        a.items = [this.item(product)];
        cart.push(product);
        yield a;
      }
    }
    if (cart.length === 0 || t >= this.now) return;
    const items = cart.map((p) => this.item(p, this.chance(0.15) ? 2 : 1));
    const value = Math.round(items.reduce((s, i) => s + Number(i.price) * Number(i.quantity), 0) * 100) / 100;
    if (!this.chance(0.35 + 0.5 * dev.intent)) return; // abandoned cart
    step();
    yield ev('page_view', '/checkout', 'Checkout');
    const c = ev('begin_checkout', '/checkout', 'Checkout');
    c.event_params.push(
      { key: 'currency', value: { string_value: this.currency } },
      { key: 'value', value: { double_value: value } },
    );
    c.items = items;
    yield c;
    if (!this.chance(0.45 + 0.4 * dev.intent)) return; // abandoned checkout
    step();
    step();
    const txn = `T${String(++this.txn).padStart(6, '0')}`;
    yield ev('page_view', '/checkout/thank-you', 'Thank you');
    const p = ev('purchase', '/checkout/thank-you', 'Thank you');
    p.event_params.push(
      { key: 'currency', value: { string_value: this.currency } },
      { key: 'value', value: { double_value: value } },
      { key: 'transaction_id', value: { string_value: txn } },
    );
    p.ecommerce = {
      transaction_id: txn,
      purchase_revenue: value,
      total_item_quantity: items.reduce((s, i) => s + Number(i.quantity), 0),
      unique_items: items.length,
    };
    p.items = items.map((i) => ({ ...i, item_revenue: Number(i.price) * Number(i.quantity) }));
    yield p;
    if (this.chance(0.08)) {
      // Refund a few days later, sent server-side (no page).
      const at = t + (2 + this.rnd() * 5) * 86_400_000;
      const r = this.base(dev, 'refund', at, Math.floor(at / 1000), sessionNumber);
      r.event_params = r.event_params.filter(
        (e) => e.key !== 'ga_session_number' && e.key !== 'ga_session_id',
      );
      r.event_params.push(
        { key: 'currency', value: { string_value: this.currency } },
        { key: 'value', value: { double_value: value } },
        { key: 'transaction_id', value: { string_value: txn } },
      );
      r.ecommerce = { transaction_id: txn, refund_value: value };
      r.items = items.map((i) => ({ ...i, item_refund: Number(i.price) * Number(i.quantity) }));
      refunds.push(r);
    }
  }
}

/** NDJSON text of the rows, in chunks of about `chunkBytes`. */
export function* ndjsonChunks(rows: Iterable<BqRow>, chunkBytes = 256 * 1024): Generator<string> {
  let buf = '';
  for (const r of rows) {
    buf += JSON.stringify(r) + '\n';
    if (buf.length >= chunkBytes) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}
