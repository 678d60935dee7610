// Collection: events per minute (last hour) and per hour (last week), the latest events live
// (like GA4's DebugView), web streams with their measurement ids and MP secrets (with a ready curl
// line), and a validator that sends a pasted body to /debug/mp/collect.
import { useEffect, useState } from 'preact/hooks';
import { api, listAll } from './api.js';
import { html, ErrorBox, Button, Chart, TableWrap, fmtTime, copyText } from './ui.js';

function Counts({ property, granularity, label }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    const load = () =>
      api.get(`/audex/v1/${property}/eventCounts?granularity=${granularity}`).then(
        (r) => live && (setData(r), setError(null)),
        (e) => live && setError(e),
      );
    load();
    const t = setInterval(load, granularity === 'minute' ? 10_000 : 60_000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [property, granularity]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!data) return null;
  return html`<${Chart}
    label=${label}
    bars=${true}
    x=${data.points.map((p) => Date.parse(p.startTime) / 1000)}
    series=${[{ label: 'events', values: data.points.map((p) => p.eventCount) }]}
  />`;
}

function paramText(params) {
  if (!params) return '';
  const entries = Array.isArray(params) ? params.map((p) => [p.key, p.value]) : Object.entries(params);
  return entries
    .map(([k, v]) => {
      const val =
        v && typeof v === 'object'
          ? (v.string_value ?? v.int_value ?? v.double_value ?? JSON.stringify(v))
          : v;
      return `${k}=${val}`;
    })
    .join('  ');
}

function Latest({ property, isAdmin }) {
  const [events, setEvents] = useState(null);
  const [error, setError] = useState(null);
  const [live, setLive] = useState(true);
  useEffect(() => {
    if (!isAdmin) return undefined;
    let on = true;
    const load = () =>
      api.get(`/audex/v1/${property}/events:latest?limit=50`).then(
        (r) => on && (setEvents(r.events), setError(null)),
        (e) => on && setError(e),
      );
    load();
    const t = live ? setInterval(load, 3000) : null;
    return () => {
      on = false;
      if (t) clearInterval(t);
    };
  }, [property, live, isAdmin]);
  if (!isAdmin)
    return html`<p class="muted">The latest events carry user identifiers: they need an admin key.</p>`;
  return html`<div>
    <label class="inline"
      ><input type="checkbox" checked=${live} onChange=${(e) => setLive(e.currentTarget.checked)} /> Live
      (every 3 s)</label
    >
    <${ErrorBox} error=${error} />
    ${
      events &&
      html`<${TableWrap} label="Latest events">
      <table data-testid="latest-events">
        <thead>
          <tr>
            <th scope="col">Event time</th>
            <th scope="col">Event</th>
            <th scope="col">User pseudo id</th>
            <th scope="col">Source</th>
            <th scope="col">Parameters</th>
          </tr>
        </thead>
        <tbody>
          ${events.map(
            (e) =>
              html`<tr>
                <td>${fmtTime(e.eventTime)}</td>
                <td class="event-name">${e.eventName}</td>
                <td><code>${e.userPseudoId}</code></td>
                <td>${e.source}</td>
                <td class="params-cell">${paramText(e.eventParams)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </${TableWrap}>`
    }
  </div>`;
}

function curlLine(measurementId, secret) {
  const body = JSON.stringify({
    client_id: '123.456',
    events: [{ name: 'page_view', params: { page_location: 'https://example.com/' } }],
  });
  return `curl -X POST '${location.origin}/mp/collect?measurement_id=${measurementId}&api_secret=${secret}' -H 'content-type: application/json' -d '${body}'`;
}

function Streams({ property, isAdmin }) {
  const [streams, setStreams] = useState(null);
  const [secrets, setSecrets] = useState({});
  const [error, setError] = useState(null);
  const [name, setName] = useState('Web');
  const [uri, setUri] = useState('https://example.com');
  const [copied, setCopied] = useState('');
  const [tick, setTick] = useState(0);
  useEffect(() => {
    (async () => {
      try {
        const list = await listAll(`/v1beta/${property}/dataStreams`, 'dataStreams');
        setStreams(list);
        if (isAdmin) {
          const all = {};
          for (const s of list)
            all[s.name] = await listAll(
              `/v1beta/${s.name}/measurementProtocolSecrets`,
              'measurementProtocolSecrets',
            );
          setSecrets(all);
        }
      } catch (err) {
        setError(err);
      }
    })();
  }, [property, tick]);
  const act = (p) => p.then(() => (setError(null), setTick((t) => t + 1)), setError);
  const reason = 'Needs the admin role';
  return html`<div>
    <form
      class="create"
      aria-label="Create web stream"
      onSubmit=${(e) => {
        e.preventDefault();
        act(
          api.post(`/v1beta/${property}/dataStreams`, {
            type: 'WEB_DATA_STREAM',
            displayName: name,
            webStreamData: { defaultUri: uri },
          }),
        );
      }}
    >
      <div class="field"><label><span>Stream name</span><input value=${name} onInput=${(e) => setName(e.currentTarget.value)} /></label></div>
      <div class="field"><label><span>Website URL</span><input value=${uri} onInput=${(e) => setUri(e.currentTarget.value)} /></label></div>
      <${Button} type="submit" kind="primary" disabled=${!isAdmin} reason=${reason}>Create web stream</${Button}>
    </form>
    <${ErrorBox} error=${error} />
    ${(streams ?? []).map(
      (s) => html`<div class="stream">
        <h4>${s.displayName} <code>${s.webStreamData?.measurementId}</code></h4>
        <p class="muted">${s.webStreamData?.defaultUri ?? ''} · <code>${s.name}</code></p>
        ${(secrets[s.name] ?? []).map((sec) => {
          const line = curlLine(s.webStreamData?.measurementId, sec.secretValue);
          return html`<div class="secret">
            <span>Secret <strong>${sec.displayName}</strong>: <code>${sec.secretValue}</code></span>
            <pre class="curl">${line}</pre>
            <${Button} onClick=${() => copyText(line).then((ok) => setCopied(ok ? sec.name : ''))}>Copy curl</${Button}>
            ${copied === sec.name && html`<span role="status"> Copied.</span>`}
          </div>`;
        })}
        <${Button}
          disabled=${!isAdmin}
          reason=${reason}
          onClick=${() => act(api.post(`/v1beta/${s.name}/measurementProtocolSecrets`, { displayName: 'console' }))}
          >Create MP secret</${Button}
        >
      </div>`,
    )}
  </div>`;
}

function Validator({ property, isAdmin }) {
  const [body, setBody] = useState(
    JSON.stringify(
      {
        client_id: '123.456',
        events: [{ name: 'page_view', params: { page_location: 'https://example.com/' } }],
      },
      null,
      2,
    ),
  );
  const [mid, setMid] = useState('');
  const [secret, setSecret] = useState('');
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    (async () => {
      const streams = await listAll(`/v1beta/${property}/dataStreams`, 'dataStreams');
      setMid(streams[0]?.webStreamData?.measurementId ?? '');
      if (streams[0] && isAdmin) {
        const secrets = await listAll(
          `/v1beta/${streams[0].name}/measurementProtocolSecrets`,
          'measurementProtocolSecrets',
        );
        setSecret(secrets[0]?.secretValue ?? '');
      }
    })().catch(() => {});
  }, [property]);
  const run = async () => {
    setError(null);
    try {
      const qs = new URLSearchParams({ measurement_id: mid, api_secret: secret });
      const res = await fetch(`/debug/mp/collect?${qs}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      setResult(await res.json());
    } catch (err) {
      setError({ code: 'UNAVAILABLE', message: `The server cannot be reached (${err.message}).` });
    }
  };
  return html`<div class="validator">
    <div class="field"><label><span>Measurement id</span><input value=${mid} onInput=${(e) => setMid(e.currentTarget.value)} /></label></div>
    <div class="field"><label><span>API secret</span><input value=${secret} onInput=${(e) => setSecret(e.currentTarget.value)} /></label></div>
    <label for="mp-body">Measurement Protocol body</label>
    <textarea id="mp-body" class="json" spellcheck="false" value=${body} onInput=${(e) => setBody(e.currentTarget.value)}></textarea>
    <${Button} kind="primary" onClick=${run}>Validate</${Button}>
    <${ErrorBox} error=${error} />
    ${
      result &&
      (result.validationMessages?.length
        ? html`<ul class="messages" data-testid="validation">
            ${result.validationMessages.map(
              (m) =>
                html`<li>
                  <strong>${m.validationCode}</strong> <code>${m.fieldPath ?? ''}</code>: ${m.description}
                </li>`,
            )}
          </ul>`
        : html`<p class="ok" data-testid="validation">No problems: this body would be accepted.</p>`)
    }
  </div>`;
}

export function Collection({ property, role }) {
  const isAdmin = role === 'admin';
  return html`<section aria-labelledby="collection-title">
    <h2 id="collection-title">Collection</h2>
    <div class="charts">
      <${Counts} property=${property} granularity="minute" label="Events per minute, last hour" />
      <${Counts} property=${property} granularity="hour" label="Events per hour, last week" />
    </div>
    <h3>Latest events</h3>
    <${Latest} property=${property} isAdmin=${isAdmin} />
    <h3>Web streams and Measurement Protocol secrets</h3>
    <${Streams} property=${property} isAdmin=${isAdmin} />
    <h3>Validate a Measurement Protocol body</h3>
    <${Validator} property=${property} isAdmin=${isAdmin} />
  </section>`;
}
