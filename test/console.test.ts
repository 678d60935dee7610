// The console in a real browser: Debian's Chromium driven by playwright-core, against a real
// `audex serve` that received its events over /mp/collect. The audience is built in the UI only;
// its rows are checked against the Data API, the CSV download against the rows. Every screen is
// checked with axe-core (no serious or critical violation) and photographed into test/screenshots/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ADMIN_KEY, api, removeDir, startServer, type RunningServer } from './helpers/server.ts';
import { createTestProperty, sendMp, type TestProperty } from './helpers/property.ts';

const CHROMIUM = process.env.AUDEX_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(import.meta.dirname, 'screenshots');
const XSS = '<img src=x onerror=alert(1)>';
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Field path of the event name of leaf 0 in the filter expression at `expr` (snake_case, as the API names it). */
const eventNameField = (expr: string) =>
  `${expr}.and_group.filter_expressions[0].or_group.filter_expressions[0].event_filter.event_name`;
const step = (i: number) => `filter_clauses[0].sequence_filter.sequence_steps[${i}]`;

describe('console (Chromium)', () => {
  let server: RunningServer;
  let p: TestProperty;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const dialogs: string[] = [];
  const cspErrors: string[] = [];
  const timings: Record<string, number> = {};

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startServer();
    p = await createTestProperty(server);
    const t0 = Date.now() * 1000 - 3_000_000_000; // 50 minutes ago, µs
    const ev = (name: string, i: number, params: Record<string, unknown> = {}) => ({
      name,
      timestamp_micros: t0 + i * 60_000_000,
      params: { session_id: '1', engagement_time_msec: 100, ...params },
    });
    // u1, u5: view_item directly followed by add_to_cart → members. u2 also purchased → excluded
    // for good. u3 had a page_view in between (not "directly"). u4 never viewed an item.
    const users: Record<string, ReturnType<typeof ev>[]> = {
      'u1.1': [ev('view_item', 0), ev('add_to_cart', 1)],
      'u2.2': [ev('view_item', 0), ev('add_to_cart', 1), ev('purchase', 2, { value: 30, currency: 'EUR' })],
      'u3.3': [ev('view_item', 0), ev('page_view', 1), ev('add_to_cart', 2)],
      'u4.4': [ev('add_to_cart', 0)],
      'u5.5': [ev('view_item', 3), ev('add_to_cart', 4, { note: XSS })],
    };
    for (const [client_id, events] of Object.entries(users)) {
      const r = await sendMp(server, p, { client_id, user_id: `user-${client_id}`, events });
      assert.equal(r.status, 204);
    }
    // The Measurement Protocol refuses such an event name; the bulk import stores any name.
    const row = { event_name: XSS, event_timestamp: String(t0 + 5 * 60_000_000), user_pseudo_id: 'x.1' };
    const imp = await fetch(`${server.url}/audex/v1/${p.property}:import?format=ndjson`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/x-ndjson' },
      body: JSON.stringify(row) + '\n',
    });
    assert.equal(imp.status, 200, await imp.text());
    // An audience whose display name is markup, made through the API.
    const made = await api(server, 'POST', `/v1alpha/${p.property}/audiences`, {
      displayName: XSS,
      description: XSS,
      membershipDurationDays: 30,
      filterClauses: [
        {
          clauseType: 'INCLUDE',
          simpleFilter: {
            scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
            filterExpression: {
              andGroup: {
                filterExpressions: [
                  { orGroup: { filterExpressions: [{ eventFilter: { eventName: 'view_item' } }] } },
                ],
              },
            },
          },
        },
      ],
    });
    assert.equal(made.status, 200, JSON.stringify(made.json));

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'],
    });
    context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 1000 } });
    page = await context.newPage();
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('console', (m) => {
      if (/Content.Security.Policy/i.test(m.text())) cspErrors.push(m.text());
    });
  });

  after(async () => {
    await browser?.close();
    if (Object.keys(timings).length)
      writeFileSync(join(SHOTS, 'timings.json'), JSON.stringify(timings, null, 2));
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  async function axeCheck(screen: string): Promise<void> {
    await page.evaluate(axeSource);
    const result = await page.evaluate(async () => {
      const r = await (window as any).axe.run(document, { resultTypes: ['violations'] });
      return r.violations.map((v: any) => ({
        id: v.id,
        impact: v.impact,
        nodes: v.nodes.length,
        help: v.help,
      }));
    });
    const bad = result.filter((v: any) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(bad, [], `${screen}: ${JSON.stringify(bad)}`);
  }

  async function shoot(name: string): Promise<void> {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  }

  async function signIn(key: string): Promise<void> {
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  async function screen(name: string): Promise<void> {
    await page.goto(`${server.url}/#/${name}`);
  }

  test('the page is served with a CSP that forbids inline scripts, and hashed assets', async () => {
    const res = await fetch(`${server.url}/`);
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = await res.text();
    const src = /src="(\/console\/assets\/main-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    assert.ok(src, html);
    const asset = await fetch(server.url + src);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
    assert.doesNotMatch(html, /<script>/);
  });

  test('a wrong key says so; the key never appears in a URL', async () => {
    await page.goto(server.url + '/');
    await axeCheck('sign-in');
    await shoot('01-sign-in');
    await signIn('not-a-real-key-0000000000');
    await page.getByText('This API key is not valid').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('audex.apiKey')), null);
  });

  test('sign in, build a sequence audience with a permanent exclusion, see its size, save it', async () => {
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    await signIn(ADMIN_KEY);
    await page.getByTestId('audiences').waitFor();
    assert.ok(!requested.some((u) => u.includes(ADMIN_KEY)), 'the key must never be in a URL');

    // First screen's time to interactive, with the key already in session storage: reload and
    // time until the audiences table has rows (Navigation Timing origin).
    await page.reload();
    await page.waitForFunction(() => document.querySelector('[data-testid=audiences] tbody tr'), null, {
      polling: 'raf',
    });
    const nav = await page.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      return {
        domInteractiveMs: n.domInteractive,
        domContentLoadedMs: n.domContentLoadedEventEnd,
        loadMs: n.loadEventEnd,
        audiencesShownMs: performance.now(),
      };
    });
    Object.assign(timings, nav);
    console.log(`console first screen: ${JSON.stringify(nav)}`);

    await axeCheck('audiences');
    await shoot('02-audiences');
    // The markup display name is text, and runs nothing.
    await page.getByRole('cell', { name: XSS, exact: true }).first().waitFor();
    assert.equal(await page.locator('[data-testid=audiences] img').count(), 0);

    await page.getByRole('button', { name: 'New audience' }).click();
    const f = (field: string) => page.locator(`[data-field="${field}"]`);
    await f('display_name').fill('Cart starters');
    await f('membership_duration_days').fill('30');
    await page.getByTestId('clause-kind').first().selectOption('sequence');
    await f(eventNameField(`${step(0)}.filter_expression`)).fill('view_item');
    await f(eventNameField(`${step(1)}.filter_expression`)).fill('add_to_cart');
    await f(`${step(1)}.immediately_follows`).check();
    await f(`${step(1)}.constraint_duration`).fill('3600');
    await f('filter_clauses[0].sequence_filter.sequence_maximum_duration').fill('7200');
    await page.getByRole('button', { name: '+ Exclude clause' }).click();
    await f(eventNameField('filter_clauses[1].simple_filter.filter_expression')).fill('purchase');
    await f('exclusion_duration_mode').selectOption('EXCLUDE_PERMANENTLY');

    // The JSON view follows the form.
    const json = JSON.parse(await page.locator('#audience-json').inputValue());
    assert.equal(json.exclusionDurationMode, 'EXCLUDE_PERMANENTLY');
    assert.equal(json.filterClauses[0].sequenceFilter.sequenceSteps[1].immediatelyFollows, true);
    assert.equal(json.filterClauses[0].sequenceFilter.sequenceSteps[1].constraintDuration, '3600s');
    assert.equal(json.filterClauses[1].clauseType, 'EXCLUDE');

    // Exact size: u1 and u5 (u2 excluded, u3 not directly, u4 never viewed).
    await page.getByTestId('member-count').filter({ hasText: /^2$/ }).waitFor({ timeout: 20_000 });
    await page.getByText('Members at the end of each of the last 30 days').waitFor({ timeout: 30_000 });
    await axeCheck('builder');
    await shoot('03-builder');
    if (process.env.AUDEX_UPDATE_README_SHOT === '1')
      copyFileSync(join(SHOTS, '03-builder.png'), join(import.meta.dirname, '..', 'docs', 'console.png'));

    // The JSON view drives the form too: untick "directly followed by" there, the size becomes 3.
    json.filterClauses[0].sequenceFilter.sequenceSteps[1].immediatelyFollows = false;
    await page.locator('#audience-json').fill(JSON.stringify(json, null, 2));
    assert.equal(await f(`${step(1)}.immediately_follows`).isChecked(), false);
    await page.getByTestId('member-count').filter({ hasText: /^3$/ }).waitFor({ timeout: 20_000 });
    await f(`${step(1)}.immediately_follows`).check();
    await page.getByTestId('member-count').filter({ hasText: /^2$/ }).waitFor({ timeout: 20_000 });

    await page.getByRole('button', { name: 'Save audience' }).click();
    await page.getByText(/Saved as properties\/\d+\/audiences\/\d+/).waitFor();
    const list = await api(server, 'GET', `/v1alpha/${p.property}/audiences`);
    const saved = list.json.audiences.find((a: any) => a.displayName === 'Cart starters');
    assert.ok(saved);
    assert.equal(saved.exclusionDurationMode, 'EXCLUDE_PERMANENTLY');
    assert.equal(saved.filterClauses[0].sequenceFilter.sequenceSteps.length, 2);
  });

  test('export it, see the rows, download CSV equal to the Data API rows', async () => {
    await screen('exports');
    await page.getByLabel('Audience', { exact: true }).selectOption({ label: 'Cart starters' });
    await page.getByLabel('userId').check();
    await page.getByRole('button', { name: 'Create export' }).click();
    const row = page.locator('[data-testid=exports] tbody tr').first();
    await row.getByText('ACTIVE').waitFor({ timeout: 60_000 });
    const name = await row.getAttribute('data-name');
    await row.getByRole('button', { name: 'Rows' }).click();
    const cells = page.locator('[data-testid=rows] tbody tr');
    await cells.first().waitFor();
    assert.equal(await cells.count(), 2);
    await axeCheck('exports');
    await shoot('04-exports');

    const query = await api(server, 'POST', `/v1beta/${name}:query`, { offset: '0', limit: '1000' });
    const apiRows = query.json.audienceRows.map((r: any) => r.dimensionValues.map((v: any) => v.value));
    assert.deepEqual(
      apiRows.map((r: string[]) => r[0]),
      ['u1.1', 'u5.5'],
    );
    const shown = await cells.evaluateAll((trs) =>
      trs.map((tr) =>
        Array.from(tr.querySelectorAll('td'))
          .slice(1)
          .map((td) => td.textContent),
      ),
    );
    assert.deepEqual(shown, apiRows);

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download CSV' }).click(),
    ]);
    const csv = readFileSync(await download.path(), 'utf8');
    assert.equal(
      csv,
      ['deviceId,userId', ...apiRows.map((r: string[]) => r.join(','))].join('\r\n') + '\r\n',
    );

    // The streaming endpoint serves NDJSON and Parquet too (curl-style, Bearer header).
    const nd = await fetch(`${server.url}/audex/v1/${name}:download?format=ndjson`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    assert.equal(nd.status, 200);
    assert.deepEqual(
      (await nd.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
      apiRows.map((r: string[]) => ({ deviceId: r[0], userId: r[1] })),
    );
    const pq = await fetch(`${server.url}/audex/v1/${name}:download?format=parquet`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    assert.equal(pq.status, 200);
    const bytes = Buffer.from(await pq.arrayBuffer());
    assert.equal(bytes.subarray(0, 4).toString(), 'PAR1');
    assert.equal(Number(pq.headers.get('content-length')), bytes.length, 'a cut file can be told apart');
    const bad = await fetch(`${server.url}/audex/v1/${name}:download?format=xml`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.status, 'INVALID_ARGUMENT');
    const anon = await fetch(`${server.url}/audex/v1/${name}:download?format=csv`);
    assert.equal(anon.status, 401);
  });

  test('a definition the API rejects shows each violation at the field it names', async () => {
    await screen('audiences');
    await page.getByRole('button', { name: 'New audience' }).click();
    const f = (field: string) => page.locator(`[data-field="${field}"]`);
    await f('membership_duration_days').fill('600');
    await f(eventNameField('filter_clauses[0].simple_filter.filter_expression')).fill('');
    const def = JSON.parse(await page.locator('#audience-json').inputValue());
    const rejected = await api(server, 'POST', `/audex/v1/${p.property}/audiences:evaluate`, def);
    assert.equal(rejected.status, 400);
    const violations = rejected.json.error.details[0].fieldViolations as { field: string }[];
    assert.ok(violations.some((v) => v.field === 'membership_duration_days'));
    assert.ok(violations.length >= 2, JSON.stringify(violations));
    for (const v of violations) {
      const shown = page.locator(`[data-violation-for="${v.field}"]`);
      await shown.waitFor({ timeout: 10_000 });
      // Shown beside the input that edits that field.
      const input = await shown.evaluate((el) =>
        el.parentElement?.querySelector('[data-field]')?.getAttribute('data-field'),
      );
      assert.equal(input, v.field);
    }
    await shoot('05-builder-violations');
    await axeCheck('builder-violations');
  });

  test('the builder writes parameter filters, dimension filters, NOT, OR and AND groups and triggers', async () => {
    await screen('audiences');
    await page.getByRole('button', { name: 'New audience' }).click();
    const f = (field: string) => page.locator(`[data-field="${field}"]`);
    const expr = 'filter_clauses[0].simple_filter.filter_expression.and_group.filter_expressions';
    const leaf0 = `${expr}[0].or_group.filter_expressions[0]`;
    await f(`${leaf0}.event_filter.event_name`).fill('purchase');
    await page.getByRole('button', { name: '+ Parameter filter' }).click();
    const param = `${leaf0}.event_filter.event_parameter_filter_expression.and_group.filter_expressions[0].dimension_or_metric_filter`;
    await f(`${param}.field_name`).fill('value');
    await page
      .locator('.param')
      .first()
      .getByLabel('Filter type', { exact: true })
      .selectOption('numericFilter');
    await f(`${param}.numeric_filter.value`).fill('20');
    await page.getByRole('button', { name: '+ OR condition' }).click();
    const leaf1 = `${expr}[0].or_group.filter_expressions[1]`;
    await page.locator('.leafbox').nth(1).getByLabel('Condition', { exact: true }).selectOption('dim');
    await f(`${leaf1}.dimension_or_metric_filter.field_name`).fill('countryId');
    await page
      .locator('.leafbox')
      .nth(1)
      .getByLabel('Filter type', { exact: true })
      .selectOption('inListFilter');
    await f(`${leaf1}.dimension_or_metric_filter.in_list_filter.values`).fill('US, CA');
    await f(`${leaf1}.dimension_or_metric_filter.at_any_point_in_time`).check();
    await page.getByRole('button', { name: '+ AND group' }).click();
    const leaf2 = `${expr}[1].or_group.filter_expressions[0]`;
    await page.locator('.leafbox').nth(2).getByLabel('Condition', { exact: true }).selectOption('not');
    await f(`${leaf2}.not_expression.dimension_or_metric_filter.field_name`).fill('deviceCategory');
    await f(`${leaf2}.not_expression.dimension_or_metric_filter.string_filter.match_type`).selectOption(
      'BEGINS_WITH',
    );
    await f(`${leaf2}.not_expression.dimension_or_metric_filter.string_filter.value`).fill('tab');
    await page.getByLabel('Log an event when users join (event trigger)').check();
    await f('event_trigger.event_name').fill('became_buyer');
    await f('event_trigger.log_condition').selectOption('AUDIENCE_MEMBERSHIP_RENEWED');

    const json = JSON.parse(await page.locator('#audience-json').inputValue());
    assert.deepEqual(json.eventTrigger, {
      eventName: 'became_buyer',
      logCondition: 'AUDIENCE_MEMBERSHIP_RENEWED',
    });
    assert.deepEqual(json.filterClauses[0].simpleFilter.filterExpression, {
      andGroup: {
        filterExpressions: [
          {
            orGroup: {
              filterExpressions: [
                {
                  eventFilter: {
                    eventName: 'purchase',
                    eventParameterFilterExpression: {
                      andGroup: {
                        filterExpressions: [
                          {
                            dimensionOrMetricFilter: {
                              fieldName: 'value',
                              numericFilter: { operation: 'GREATER_THAN', value: { int64Value: '20' } },
                            },
                          },
                        ],
                      },
                    },
                  },
                },
                {
                  dimensionOrMetricFilter: {
                    fieldName: 'countryId',
                    inListFilter: { values: ['US', 'CA'] },
                    atAnyPointInTime: true,
                  },
                },
              ],
            },
          },
          {
            orGroup: {
              filterExpressions: [
                {
                  notExpression: {
                    dimensionOrMetricFilter: {
                      fieldName: 'deviceCategory',
                      stringFilter: { matchType: 'BEGINS_WITH', value: 'tab' },
                    },
                  },
                },
              ],
            },
          },
        ],
      },
    });
    // The API accepts it and sizes it: u2 bought for 30 (> 20) on a device that is no tablet.
    await page.getByTestId('member-count').filter({ hasText: /^1$/ }).waitFor({ timeout: 20_000 });
  });

  test('lists and collection screens; markup in event names and parameters stays text', async () => {
    await screen('lists');
    await page.getByRole('heading', { name: 'Recurring audience lists' }).waitFor();
    await axeCheck('lists');
    await shoot('06-lists');

    await screen('collection');
    await page.getByTestId('latest-events').waitFor();
    await page.locator('.event-name', { hasText: XSS }).first().waitFor();
    await page
      .locator('.params-cell', { hasText: `note=${XSS}` })
      .first()
      .waitFor();
    assert.equal(await page.locator('[data-testid=latest-events] img').count(), 0);
    await page.getByText('Events per hour, last week').waitFor();
    // The validator sends the pasted body to /debug/mp/collect and shows its messages.
    const secretInput = page.getByLabel('API secret');
    for (let i = 0; i < 100 && (await secretInput.inputValue()) !== p.secret; i++)
      await page.waitForTimeout(100);
    assert.equal(await secretInput.inputValue(), p.secret);
    await page.getByRole('button', { name: 'Validate' }).click();
    await page.getByTestId('validation').filter({ hasText: 'No problems' }).waitFor();
    await page.getByLabel('Measurement Protocol body').fill('{"client_id":"1.2","events":[{"name":"1bad"}]}');
    await page.getByRole('button', { name: 'Validate' }).click();
    await page.getByTestId('validation').filter({ hasText: 'NAME_INVALID' }).waitFor();
    await axeCheck('collection');
    await shoot('07-collection');

    await screen('keys');
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await axeCheck('keys');
    await shoot('08-keys');
    assert.deepEqual(dialogs, [], 'no script from data may run');
    assert.deepEqual(cspErrors, [], 'the console itself must not trip its CSP');
  });

  test('a viewer key sees the data but no write button works', async () => {
    const viewer = await api(server, 'POST', '/audex/v1/keys', {
      displayName: 'viewer',
      bindings: [{ property: p.property, role: 'viewer' }],
    });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('Signed out.').waitFor();
    await signIn(viewer.json.key);
    await screen('audiences');
    await page.getByTestId('audiences').waitFor();
    await page.getByTestId('role').filter({ hasText: 'role: viewer' }).waitFor();
    const archive = page.getByRole('button', { name: 'Archive' });
    assert.ok((await archive.count()) > 0);
    for (const b of await archive.all()) assert.equal(await b.isDisabled(), true);
    await page.getByRole('button', { name: 'New audience' }).click();
    assert.equal(await page.getByRole('button', { name: 'Save audience' }).isDisabled(), true);
    await page.getByTestId('member-count').waitFor({ timeout: 20_000 }); // reading is allowed
    await screen('exports');
    await page.getByLabel('Audience', { exact: true }).selectOption({ index: 1 });
    assert.equal(await page.getByRole('button', { name: 'Create export' }).isDisabled(), true);
    assert.equal(await page.getByRole('link', { name: 'Keys' }).count(), 0);
    await shoot('09-viewer');
  });

  test("the console's endpoints: exact sizes, counts, latest events, Google-shaped errors", async () => {
    const saved = (await api(server, 'GET', `/v1alpha/${p.property}/audiences`)).json.audiences.find(
      (a: any) => a.displayName === 'Cart starters',
    );
    const { name: _n, createTime: _c, adsPersonalizationEnabled: _a, ...def } = saved;
    const now = await api(server, 'POST', `/audex/v1/${p.property}/audiences:evaluate`, def);
    assert.equal(now.status, 200, JSON.stringify(now.json));
    assert.equal(now.json.memberCount, '2');
    assert.equal(typeof now.json.elapsedMs, 'number');
    const history = await api(server, 'POST', `/audex/v1/${p.property}/audiences:sizeHistory`, def);
    assert.equal(history.json.days.length, 30);
    assert.equal(history.json.days.at(-1).memberCount, '2');
    assert.equal(history.json.days[0].memberCount, '0'); // the events are 50 minutes old
    const minutes = await api(server, 'GET', `/audex/v1/${p.property}/eventCounts?granularity=minute`);
    assert.equal(minutes.json.points.length, 60);
    // 11 MP events and the imported one, all within the last hour.
    assert.equal(
      minutes.json.points.reduce((n: number, pt: any) => n + pt.eventCount, 0),
      12,
    );
    const hours = await api(server, 'GET', `/audex/v1/${p.property}/eventCounts?granularity=hour`);
    assert.equal(hours.json.points.length, 168);
    const latest = await api(server, 'GET', `/audex/v1/${p.property}/events:latest?limit=2`);
    assert.equal(latest.json.events.length, 2);
    assert.equal(latest.json.events[0].eventName, XSS); // imported last

    const viewerKey = (
      await api(server, 'POST', '/audex/v1/keys', {
        displayName: 'v2',
        bindings: [{ property: p.property, role: 'viewer' }],
      })
    ).json.key;
    const asViewer = await api(server, 'POST', `/audex/v1/${p.property}/audiences:evaluate`, def, viewerKey);
    assert.equal(asViewer.status, 200);
    assert.equal(
      (await api(server, 'GET', `/audex/v1/${p.property}/events:latest`, undefined, viewerKey)).status,
      403,
    );
    const other = await api(server, 'POST', `/audex/v1/properties/999/audiences:evaluate`, def, viewerKey);
    assert.equal(other.status, 403);
    assert.equal(
      (await api(server, 'POST', `/audex/v1/${p.property}/audiences:evaluate`, def, null)).status,
      401,
    );
    const badGranularity = await api(server, 'GET', `/audex/v1/${p.property}/eventCounts?granularity=day`);
    assert.equal(badGranularity.status, 400);
    assert.equal(badGranularity.json.error.details[0].fieldViolations[0].field, 'granularity');
    const notJson = await api(server, 'POST', `/audex/v1/${p.property}/audiences:evaluate`, '{');
    assert.equal(notJson.status, 400);
    assert.equal(notJson.json.error.status, 'INVALID_ARGUMENT');
    const whoami = await api(server, 'GET', '/audex/v1/session', undefined, viewerKey);
    assert.deepEqual(whoami.json.bindings, [{ property: p.property, role: 'viewer' }]);
    assert.ok(whoami.json.fieldNames.dimensions.length > 0);
  });

  test('a server that goes away mid-session gives a clear message', async () => {
    await screen('audiences');
    await page.getByTestId('audiences').waitFor();
    await server.kill();
    await page.getByRole('link', { name: 'Exports' }).click();
    await page.getByTestId('banner').filter({ hasText: 'cannot be reached' }).waitFor({ timeout: 10_000 });
    await shoot('10-server-gone');
  });
});
