// Exports (v1beta audienceExports) and audience lists (v1alpha audienceLists): state, live
// progress, row count, create, rows as a paged table, download (exports), and recurring lists with
// their webhook deliveries.
import { useEffect, useState } from 'preact/hooks';
import { api, listAll } from './api.js';
import { html, ErrorBox, Button, TableWrap, fmtTime } from './ui.js';

const DIMENSIONS = ['deviceId', 'userId', 'isAdsPersonalizationAllowed', 'isLimitedAdTracking'];
const PAGE = 25;

const KINDS = {
  exports: {
    version: 'v1beta',
    collection: 'audienceExports',
    body: 'audienceExport',
    title: 'Audience exports',
    one: 'export',
  },
  lists: {
    version: 'v1alpha',
    collection: 'audienceLists',
    body: 'audienceList',
    title: 'Audience lists',
    one: 'list',
  },
};

function stateOf(s) {
  return typeof s === 'number' ? ['STATE_UNSPECIFIED', 'CREATING', 'ACTIVE', 'FAILED'][s] : s;
}

function CreateForm({ property, audiences, kind, canWrite, onCreated, recurring }) {
  const [audience, setAudience] = useState('');
  const [dims, setDims] = useState(['deviceId']);
  const [days, setDays] = useState('7');
  const [webhook, setWebhook] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const body = { audience, dimensions: dims.map((dimensionName) => ({ dimensionName })) };
      if (recurring) {
        body.activeDaysRemaining = Number(days);
        if (webhook) body.webhookNotification = { uri: webhook };
        await api.post(`/v1alpha/${property}/recurringAudienceLists`, body);
      } else await api.post(`/${KINDS[kind].version}/${property}/${KINDS[kind].collection}`, body);
      onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const label = recurring ? 'recurring list' : KINDS[kind].one;
  return html`<form class="create" onSubmit=${submit} aria-label=${`Create ${label}`}>
    <div class="field">
      <label
        ><span>Audience</span>
        <select aria-label="Audience" value=${audience} onChange=${(e) => setAudience(e.currentTarget.value)} required>
          <option value="">Choose…</option>
          ${audiences.map((a) => html`<option value=${a.name}>${a.displayName}</option>`)}
        </select></label
      >
    </div>
    <fieldset class="dims">
      <legend>Dimensions</legend>
      ${DIMENSIONS.map(
        (d) =>
          html`<label class="inline"
            ><input
              type="checkbox"
              checked=${dims.includes(d)}
              onChange=${(e) => setDims(e.currentTarget.checked ? [...dims, d] : dims.filter((x) => x !== d))}
            />
            ${d}</label
          >`,
      )}
    </fieldset>
    ${
      recurring &&
      html`<div class="field">
          <label
            ><span>Active days</span
            ><input type="number" min="1" value=${days} onInput=${(e) => setDays(e.currentTarget.value)}
          /></label>
        </div>
        <div class="field">
          <label
            ><span>Webhook URI (optional)</span
            ><input type="url" value=${webhook} onInput=${(e) => setWebhook(e.currentTarget.value)}
          /></label>
        </div>`
    }
    <${Button} type="submit" kind="primary" disabled=${!canWrite || busy || !audience} reason="Needs the editor role"
      >Create ${label}</${Button}
    >
    <${ErrorBox} error=${error} />
  </form>`;
}

async function download(name, format) {
  const res = await api.raw(`/audex/v1/${name}:download?format=${format}`);
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = `${name.replaceAll('/', '-')}.${format}`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function Rows({ item, kind }) {
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [dlError, setDlError] = useState(null);
  useEffect(() => {
    setError(null);
    api
      .post(`/${KINDS[kind].version}/${item.name}:query`, { offset: String(offset), limit: String(PAGE) })
      .then(setPage, setError);
  }, [item.name, offset]);
  const dims = (item.dimensions ?? []).map((d) => d.dimensionName);
  const total = Number(page?.rowCount ?? item.rowCount ?? 0);
  return html`<section class="rows" aria-label=${`Rows of ${item.name}`}>
    <h3>Rows of <code>${item.name}</code> (${item.audienceDisplayName})</h3>
    ${
      kind === 'exports' &&
      html`<div class="row">
        ${['csv', 'ndjson', 'parquet'].map(
          (f) =>
            html`<${Button} onClick=${() => download(item.name, f).catch(setDlError)}>Download ${f.toUpperCase()}</${Button}>`,
        )}
      </div>`
    }
    <${ErrorBox} error=${dlError} />
    <${ErrorBox} error=${error} />
    ${
      page &&
      html`<${TableWrap} label="Export rows">
        <table data-testid="rows">
          <thead>
            <tr>
              <th scope="col">#</th>
              ${dims.map((d) => html`<th scope="col">${d}</th>`)}
            </tr>
          </thead>
          <tbody>
            ${(page.audienceRows ?? []).map(
              (r, i) =>
                html`<tr>
                  <td>${offset + i + 1}</td>
                  ${dims.map((_, j) => html`<td>${r.dimensionValues?.[j]?.value ?? ''}</td>`)}
                </tr>`,
            )}
          </tbody>
        </table>
      </${TableWrap}>
      <div class="pager">
        <${Button} disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - PAGE))}>Previous</${Button}>
        <span>Rows ${total === 0 ? 0 : offset + 1}–${Math.min(offset + PAGE, total)} of ${total}</span>
        <${Button} disabled=${offset + PAGE >= total} onClick=${() => setOffset(offset + PAGE)}>Next</${Button}>
      </div>`
    }
  </section>`;
}

function Deliveries({ list }) {
  const [d, setD] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api.get(`/audex/v1/${list}/webhookDeliveries`).then((r) => setD(r.deliveries ?? []), setError);
  }, [list]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!d) return null;
  if (d.length === 0) return html`<p class="muted">No webhook deliveries.</p>`;
  return html`<${TableWrap} label="Webhook deliveries">
    <table>
      <thead>
        <tr>${Object.keys(d[0]).map((k) => html`<th scope="col">${k}</th>`)}</tr>
      </thead>
      <tbody>
        ${d.map(
          (row) =>
            html`<tr>
              ${Object.values(row).map((v) => html`<td>${typeof v === 'object' ? JSON.stringify(v) : String(v)}</td>`)}
            </tr>`,
        )}
      </tbody>
    </table>
  </${TableWrap}>`;
}

export function Exports({ property, kind, role }) {
  const k = KINDS[kind];
  const [items, setItems] = useState(null);
  const [audiences, setAudiences] = useState([]);
  const [recurring, setRecurring] = useState([]);
  const [error, setError] = useState(null);
  const [open, setOpen] = useState(null);
  const [openHooks, setOpenHooks] = useState(null);
  const [tick, setTick] = useState(0);
  const canWrite = role === 'editor' || role === 'admin';
  const refresh = () => setTick((t) => t + 1);

  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const list = await listAll(`/${k.version}/${property}/${k.collection}`, k.collection);
        if (!live) return;
        setItems(list);
        setError(null);
        if (kind === 'lists')
          setRecurring(
            await listAll(`/v1alpha/${property}/recurringAudienceLists`, 'recurringAudienceLists'),
          );
      } catch (err) {
        if (live) setError(err);
      }
    })();
    return () => {
      live = false;
    };
  }, [property, kind, tick]);

  // Live progress: poll while anything is being created.
  useEffect(() => {
    if (!items?.some((i) => stateOf(i.state) === 'CREATING')) return undefined;
    const t = setTimeout(refresh, 1000);
    return () => clearTimeout(t);
  }, [items]);

  useEffect(() => {
    listAll(`/v1alpha/${property}/audiences`, 'audiences').then(setAudiences, () => {});
  }, [property]);

  return html`<section aria-labelledby="exports-title">
    <h2 id="exports-title">${k.title}</h2>
    <${CreateForm}
      property=${property}
      audiences=${audiences}
      kind=${kind}
      canWrite=${canWrite}
      onCreated=${refresh}
    />
    <${ErrorBox} error=${error} />
    ${
      items &&
      html`<${TableWrap} label=${k.title}>
      <table data-testid="exports">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Audience</th>
            <th scope="col">Dimensions</th>
            <th scope="col">State</th>
            <th scope="col">Progress</th>
            <th scope="col">Rows</th>
            <th scope="col">Created</th>
            <th scope="col"><span class="sr-only">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          ${items.map(
            (i) => html`<tr data-name=${i.name}>
              <td><code>${i.name.split('/').pop()}</code></td>
              <td>${i.audienceDisplayName}</td>
              <td>${(i.dimensions ?? []).map((d) => d.dimensionName).join(', ')}</td>
              <td class=${`state ${stateOf(i.state)}`}>${stateOf(i.state)}${i.errorMessage ? `: ${i.errorMessage}` : ''}</td>
              <td><progress max="100" value=${i.percentageCompleted ?? 0} aria-label="progress"></progress> ${Math.floor(i.percentageCompleted ?? 0)}%</td>
              <td>${i.rowCount ?? ''}</td>
              <td>${fmtTime(i.beginCreatingTime)}</td>
              <td>
                <${Button} disabled=${stateOf(i.state) !== 'ACTIVE'} onClick=${() => setOpen(i)}>Rows</${Button}>
                ${
                  i.webhookNotification &&
                  html`<${Button} onClick=${() => setOpenHooks(i.name)}>Webhook deliveries</${Button}>`
                }
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
    </${TableWrap}>`
    }
    ${items?.length === 0 && html`<p class="muted">None yet.</p>`}
    ${open && html`<${Rows} item=${open} kind=${kind} />`}
    ${
      openHooks &&
      html`<h3>Webhook deliveries of <code>${openHooks}</code></h3>
        <${Deliveries} list=${openHooks} />`
    }
    ${
      kind === 'lists' &&
      html`<h2>Recurring audience lists</h2>
      <${CreateForm}
        property=${property}
        audiences=${audiences}
        kind=${kind}
        canWrite=${canWrite}
        onCreated=${refresh}
        recurring=${true}
      />
      <${TableWrap} label="Recurring audience lists">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Audience</th>
              <th scope="col">Active days remaining</th>
              <th scope="col">Webhook</th>
              <th scope="col">Lists made</th>
            </tr>
          </thead>
          <tbody>
            ${recurring.map(
              (r) =>
                html`<tr>
                  <td><code>${r.name.split('/').pop()}</code></td>
                  <td>${r.audienceDisplayName}</td>
                  <td>${r.activeDaysRemaining ?? ''}</td>
                  <td>${r.webhookNotification?.uri ?? ''}</td>
                  <td>${(r.audienceLists ?? []).length}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </${TableWrap}>`
    }
  </section>`;
}
