import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deviceFromUserAgent, mergeDevice } from './user-agent.ts';
import { emptyDevice, type ParsedDevice } from './common.ts';

const UA = {
  windowsChrome:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  iphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
  pixel:
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36',
  ipad: 'Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
  mac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
  chromebook:
    'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  tv: 'Mozilla/5.0 (Linux; Android 10; BRAVIA 4K GB) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0 Safari/537.36',
  webview:
    'Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.81 Mobile Safari/537.36',
};

function brief(d: ParsedDevice | null): (string | null)[] | null {
  return d
    ? [d.category, d.operatingSystem, d.operatingSystemVersion, d.browser, d.browserVersion, d.brand, d.model]
    : null;
}

describe('deviceFromUserAgent', () => {
  it('maps the parser to the names GA4 reports', () => {
    assert.deepEqual(brief(deviceFromUserAgent(UA.windowsChrome)), [
      'desktop',
      'Windows',
      '10',
      'Chrome',
      '131.0.0.0',
      null,
      null,
    ]);
    assert.deepEqual(brief(deviceFromUserAgent(UA.iphone)), [
      'mobile',
      'iOS',
      '17.1.2',
      'Safari',
      '17.1',
      'Apple',
      'iPhone',
    ]);
    assert.deepEqual(brief(deviceFromUserAgent(UA.pixel)), [
      'mobile',
      'Android',
      '14',
      'Chrome',
      '131.0.6778.81',
      'Google',
      'Pixel 8',
    ]);
    assert.deepEqual(brief(deviceFromUserAgent(UA.ipad))?.slice(0, 4), ['tablet', 'iOS', '17.1', 'Safari']);
    assert.deepEqual(brief(deviceFromUserAgent(UA.mac))?.slice(0, 4), [
      'desktop',
      'Macintosh',
      '10.15.7',
      'Safari',
    ]);
    assert.deepEqual(brief(deviceFromUserAgent(UA.chromebook))?.slice(0, 2), ['desktop', 'Chrome OS']);
    assert.deepEqual(brief(deviceFromUserAgent(UA.tv))?.slice(0, 2), ['smart tv', 'Android']);
    assert.equal(deviceFromUserAgent(UA.webview)?.browser, 'Android Webview');
  });

  it('is null for strings that name no OS and no browser, and for nothing', () => {
    assert.equal(deviceFromUserAgent('curl/8.0'), null);
    assert.equal(deviceFromUserAgent(''), null);
    assert.equal(deviceFromUserAgent(null), null);
  });

  it('answers the same from its cache, and copes with a huge string', () => {
    assert.deepEqual(deviceFromUserAgent(UA.iphone), deviceFromUserAgent(UA.iphone));
    assert.equal(deviceFromUserAgent(UA.pixel + 'x'.repeat(100_000))?.operatingSystem, 'Android');
  });
});

describe('mergeDevice', () => {
  const none = emptyDevice();
  const derived = deviceFromUserAgent(UA.pixel);

  it('fills only what the explicit device leaves out', () => {
    const merged = mergeDevice({ ...none, category: 'tablet', language: 'de' }, derived);
    assert.deepEqual(brief(merged), [
      'tablet',
      'Android',
      '14',
      'Chrome',
      '131.0.6778.81',
      'Google',
      'Pixel 8',
    ]);
    assert.equal(merged?.language, 'de');
  });

  it('keeps a name and its version together', () => {
    const merged = mergeDevice({ ...none, operatingSystem: 'iOS', browser: 'Safari' }, derived);
    assert.deepEqual([merged?.operatingSystem, merged?.operatingSystemVersion], ['iOS', null]);
    assert.deepEqual([merged?.browser, merged?.browserVersion], ['Safari', null]);
    assert.deepEqual([merged?.brand, merged?.model], ['Google', 'Pixel 8']);
  });

  it('either side alone passes through', () => {
    assert.equal(mergeDevice(null, derived), derived);
    const explicit = { ...none, category: 'desktop' };
    assert.equal(mergeDevice(explicit, null), explicit);
    assert.equal(mergeDevice(null, null), null);
  });
});
