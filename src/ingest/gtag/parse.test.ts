import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConsent, parseGtagHit } from './parse.ts';
import { toEvents } from '../mp/to-events.ts';

const NOW = 1_717_200_000_000_000n;

const PAGE_VIEW =
  'v=2&tid=G-ABC123&gtm=45je4&_p=1717&gcs=G111&gcd=13t3t3t3t5&npa=0&cid=111.222&ul=en-US&sr=1920x1080' +
  '&uaa=x86&uab=64&uafvl=Not%2FA)Brand%3B8.0.0.0%7CChromium%3B126.0.6478.62%7CGoogle%2520Chrome%3B126.0.6478.62' +
  '&uamb=0&uam=&uap=Windows&uapv=15.0.0&_s=1&sid=1717199000&sct=3&seg=1&dl=https%3A%2F%2Fshop.test%2F%3Fa%3D1' +
  '&dr=https%3A%2F%2Fgoogle.com%2F&dt=Shop&en=page_view&_fv=1&_ss=1&_nsi=1&uid=user-9&up.plan=pro&upn.age=42' +
  '&ep.section=home&epn.score=4.5&epn.count=3&_et=12';

describe('parseGtagHit', () => {
  it('takes the device from the client hints first, then from the User-Agent header', () => {
    const mac =
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
    const hinted = parseGtagHit({ query: PAGE_VIEW, nowMicros: NOW, userAgent: mac }).events[2]!.device;
    assert.deepEqual(
      [hinted?.category, hinted?.operatingSystem, hinted?.operatingSystemVersion, hinted?.browserVersion],
      ['desktop', 'Windows', '15.0.0', '126.0.6478.62'],
      'the hints win',
    );
    const bare = parseGtagHit({
      query: 'v=2&tid=G-ABC123&cid=1.2&en=scroll',
      nowMicros: NOW,
      userAgent: mac,
    });
    const d = bare.events[0]!.device;
    assert.deepEqual(
      [d?.category, d?.operatingSystem, d?.operatingSystemVersion, d?.browser, d?.browserVersion],
      ['desktop', 'Macintosh', '10.15.7', 'Chrome', '126.0.0.0'],
    );
    assert.equal(
      parseGtagHit({ query: 'v=2&tid=G-ABC123&cid=1.2&en=scroll', nowMicros: NOW }).events[0]!.device,
      null,
    );
  });

  it('parses a page_view hit with every common parameter', () => {
    const r = parseGtagHit({ query: PAGE_VIEW, nowMicros: NOW });
    assert.deepEqual(r.messages, []);
    assert.equal(r.measurementId, 'G-ABC123');
    assert.deepEqual(
      r.events.map((e) => e.name),
      ['first_visit', 'session_start', 'page_view'],
    );
    const e = r.events[2]!;
    assert.equal(e.source, 'gtag');
    assert.equal(e.platform, 'WEB');
    assert.equal(e.clientId, '111.222');
    assert.equal(e.userId, 'user-9');
    assert.equal(e.sessionId, 1717199000n);
    assert.equal(e.sessionNumber, 3);
    assert.equal(e.timestampMicros, NOW);
    assert.deepEqual(e.params, {
      session_engaged: { string_value: '1' },
      page_location: { string_value: 'https://shop.test/?a=1' },
      page_referrer: { string_value: 'https://google.com/' },
      page_title: { string_value: 'Shop' },
      section: { string_value: 'home' },
      score: { double_value: 4.5 },
      count: { int_value: 3n },
      engagement_time_msec: { int_value: 12n },
    });
    assert.deepEqual(e.userProperties, {
      plan: { value: { string_value: 'pro' }, timestampMicros: null },
      age: { value: { int_value: 42n }, timestampMicros: null },
    });
    assert.deepEqual(e.consent, { adUserData: 'GRANTED', adPersonalization: 'GRANTED' });
    assert.equal(e.nonPersonalizedAds, false);
    assert.deepEqual(e.device, {
      category: 'desktop',
      language: 'en-us',
      screenResolution: '1920x1080',
      operatingSystem: 'Windows',
      operatingSystemVersion: '15.0.0',
      model: null,
      brand: null,
      browser: 'Chrome',
      browserVersion: '126.0.6478.62',
    });
    assert.deepEqual(r.events[1]!.params, {
      page_location: { string_value: 'https://shop.test/?a=1' },
      page_title: { string_value: 'Shop' },
      page_referrer: { string_value: 'https://google.com/' },
    });
    const stored = toEvents(r.events, { propertyId: 1n, streamId: 's', timeZone: 'UTC', nowMicros: NOW });
    assert.equal(stored[2]!.source, 'gtag');
    assert.equal(stored[2]!.ga_session_id, 1717199000n);
    assert.equal(stored[2]!.ga_session_number, 3);
    assert.equal(stored[2]!.device_browser, 'Chrome');
  });

  it('batched POST bodies: one event per line, line params override the URL', () => {
    const r = parseGtagHit({
      query: '?v=2&tid=G-1&cid=1.2&sid=100&sct=1&dl=https%3A%2F%2Fa.test%2F',
      body: 'en=scroll&epn.percent_scrolled=90\r\n\nen=click&ep.link_url=https%3A%2F%2Fb.test&dl=https%3A%2F%2Fother.test%2F\n',
      nowMicros: NOW,
    });
    assert.deepEqual(r.messages, []);
    assert.deepEqual(
      r.events.map((e) => [e.name, e.params['page_location']]),
      [
        ['scroll', { string_value: 'https://a.test/' }],
        ['click', { string_value: 'https://other.test/' }],
      ],
    );
    assert.deepEqual(r.events[0]!.params['percent_scrolled'], { int_value: 90n });
  });

  it('reports and drops bad hits', () => {
    const r = parseGtagHit({
      query: 'v=2&tid=G-1',
      body: ['en=a', 'cid=1&en=_bad', 'cid=1', 'cid=1&v=1&en=x', 'cid=1&en=ok&tid=G-2'].join('\n'),
      nowMicros: NOW,
    });
    assert.deepEqual(
      r.messages.map((m) => `${m.fieldPath}|${m.validationCode}`),
      [
        'events[0].cid|VALUE_REQUIRED',
        'events|NAME_INVALID',
        'events[2].en|VALUE_REQUIRED',
        'events[3].v|VALUE_INVALID',
        'events[4].tid|VALUE_INVALID',
      ],
    );
    assert.equal(r.events.length, 0);
    const noTid = parseGtagHit({ query: 'v=2&cid=1&en=x', nowMicros: NOW });
    assert.equal(noTid.measurementId, null);
    assert.deepEqual(
      noTid.messages.map((m) => m.fieldPath),
      ['events[0].tid'],
    );
  });

  it('param rules: names, reserved names, numeric values, truncation, limits, pollution keys', () => {
    const many = Array.from({ length: 30 }, (_, i) => `ep.p${i}=v`).join('&');
    const r = parseGtagHit({
      query:
        `v=2&tid=G-1&cid=1&en=e&ep.__proto__=x&ep.constructor=c&ep.firebase_conversion=1&epn.n=abc&ep.long=${'x'.repeat(150)}` +
        `&dt=${'t'.repeat(320)}&up.${'u'.repeat(25)}=1&up.user_id=1&up.pro=${'v'.repeat(40)}&sid=abc&uid=${'u'.repeat(257)}&${many}`,
      nowMicros: NOW,
    });
    assert.deepEqual(
      r.messages.map((m) => `${m.fieldPath}|${m.validationCode}`),
      [
        'events[0].params|NAME_INVALID',
        'events[0].params|NAME_RESERVED',
        'events[0].epn.n|VALUE_INVALID',
        'events[0].ep.long|VALUE_OUT_OF_BOUNDS',
        'events[0].dt|VALUE_OUT_OF_BOUNDS',
        `events[0].user_properties.${'u'.repeat(25)}|NAME_INVALID`,
        'events[0].user_properties.user_id|NAME_RESERVED',
        'events[0].user_properties.pro|VALUE_OUT_OF_BOUNDS',
        'events[0].sid|VALUE_INVALID',
        'events[0].uid|VALUE_OUT_OF_BOUNDS',
        ...Array.from({ length: 8 }, () => 'events[0].params|EXCEEDED_MAX_ENTITIES'),
      ],
    );
    const e = r.events[0]!;
    assert.equal(Object.getPrototypeOf(e.params), Object.prototype);
    assert.deepEqual(e.params['constructor'], { string_value: 'c' });
    assert.equal((e.params['long'] as { string_value: string }).string_value.length, 100);
    assert.equal((e.params['page_title'] as { string_value: string }).string_value.length, 300);
    assert.equal(Object.keys(e.params).length, 25);
    assert.deepEqual(e.userProperties['pro']!.value, { string_value: 'v'.repeat(36) });
    assert.equal(e.sessionId, null);
    assert.equal(e.userId, null);
  });

  it('parses items (pr<N>) with custom item params', () => {
    const r = parseGtagHit({
      query:
        'v=2&tid=G-1&cid=1&en=purchase&cu=EUR&ep.transaction_id=T1&epn.value=30.02' +
        '&pr1=idSKU_1~nmTee~brGoogle~caApparel~c2Adult~vagreen~pr10.01~qt3~lp5~k0color~v0red~k1size~v1XL' +
        '&pr2=nmMug~pr5' +
        '&pr3=caNoId',
      nowMicros: NOW,
    });
    assert.deepEqual(
      r.messages.map((m) => `${m.fieldPath}|${m.validationCode}`),
      ['events[0].items[2]|VALUE_REQUIRED'],
    );
    const e = r.events[0]!;
    assert.deepEqual(e.items, [
      {
        item_id: 'SKU_1',
        item_name: 'Tee',
        item_brand: 'Google',
        item_category: 'Apparel',
        item_category2: 'Adult',
        item_variant: 'green',
        price: 10.01,
        quantity: 3,
        item_list_index: '5',
        item_params: { color: { string_value: 'red' }, size: { string_value: 'XL' } },
      },
      { item_name: 'Mug', price: 5 },
    ]);
    assert.deepEqual(e.params['currency'], { string_value: 'EUR' });
    const [stored] = toEvents(r.events, { propertyId: 1n, streamId: 's', timeZone: 'UTC', nowMicros: NOW });
    assert.equal(stored!.ecommerce_purchase_revenue, 30.02);
    assert.equal(stored!.ecommerce_transaction_id, 'T1');
  });

  it('caps batched events', () => {
    const body = Array.from({ length: 60 }, () => 'en=e').join('\n');
    const r = parseGtagHit({ query: 'v=2&tid=G-1&cid=1', body, nowMicros: NOW });
    assert.equal(r.events.length, 50);
    assert.deepEqual(
      r.messages.map((m) => m.validationCode),
      ['EXCEEDED_MAX_ENTITIES'],
    );
  });
});

describe('parseConsent', () => {
  it('gcd wins: letters for ad_storage, analytics_storage, ad_user_data, ad_personalization', () => {
    assert.deepEqual(parseConsent('G111', '13t3t3p3q5'), {
      adUserData: 'DENIED',
      adPersonalization: 'DENIED',
    });
    assert.deepEqual(parseConsent(null, '13r3r3r3r5'), {
      adUserData: 'GRANTED',
      adPersonalization: 'GRANTED',
    });
    assert.deepEqual(parseConsent(null, '13l3l3l3l1'), { adUserData: null, adPersonalization: null });
    assert.deepEqual(parseConsent(null, '13v3v3u3m5'), { adUserData: 'DENIED', adPersonalization: 'DENIED' });
  });

  it('gcs alone: denied ad_storage denies both; granted sets nothing', () => {
    assert.deepEqual(parseConsent('G101', null), { adUserData: 'DENIED', adPersonalization: 'DENIED' });
    assert.deepEqual(parseConsent('G100', null), { adUserData: 'DENIED', adPersonalization: 'DENIED' });
    assert.deepEqual(parseConsent('G111', null), { adUserData: null, adPersonalization: null });
    assert.deepEqual(parseConsent('G110', null), { adUserData: null, adPersonalization: null });
    assert.deepEqual(parseConsent('junk', null), { adUserData: null, adPersonalization: null });
  });
});
