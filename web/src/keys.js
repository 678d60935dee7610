// API keys (admin keys only): list, create with a role and properties, revoke.
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { html, ErrorBox, Button, TableWrap, fmtTime } from './ui.js';

export function Keys({ properties }) {
  const [keys, setKeys] = useState(null);
  const [error, setError] = useState(null);
  const [name, setName] = useState('');
  const [role, setRole] = useState('viewer');
  const [chosen, setChosen] = useState([]);
  const [created, setCreated] = useState(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    api.get('/audex/v1/keys').then((r) => setKeys(r.keys ?? []), setError);
  }, [tick]);
  const create = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const k = await api.post('/audex/v1/keys', {
        displayName: name,
        bindings: chosen.map((property) => ({ property, role })),
      });
      setCreated(k);
      setTick((t) => t + 1);
    } catch (err) {
      setError(err);
    }
  };
  const revoke = (k) => api.post(`/audex/v1/${k.name}:revoke`).then(() => setTick((t) => t + 1), setError);
  return html`<section aria-labelledby="keys-title">
    <h2 id="keys-title">API keys</h2>
    <form class="create" onSubmit=${create} aria-label="Create key">
      <div class="field"><label><span>Key name</span><input value=${name} onInput=${(e) => setName(e.currentTarget.value)} /></label></div>
      <div class="field">
        <label
          ><span>Role</span>
          <select aria-label="Role" value=${role} onChange=${(e) => setRole(e.currentTarget.value)}>
            <option value="viewer">viewer (read and query)</option>
            <option value="editor">editor (also audiences, exports, import)</option>
            <option value="admin">admin (also streams, secrets, keys)</option>
          </select></label
        >
      </div>
      <fieldset class="dims">
        <legend>Properties</legend>
        ${properties.map(
          (p) =>
            html`<label class="inline"
              ><input
                type="checkbox"
                checked=${chosen.includes(p.name)}
                onChange=${(e) => setChosen(e.currentTarget.checked ? [...chosen, p.name] : chosen.filter((x) => x !== p.name))}
              />
              ${p.displayName} (${p.name})</label
            >`,
        )}
      </fieldset>
      <${Button} type="submit" kind="primary" disabled=${chosen.length === 0}>Create key</${Button}>
    </form>
    ${
      created &&
      html`<div class="ok" role="status">
        New key <strong>${created.displayName}</strong>, shown once:
        <code data-testid="new-key">${created.key}</code>
      </div>`
    }
    <${ErrorBox} error=${error} />
    ${
      keys &&
      html`<${TableWrap} label="API keys">
      <table>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Name</th>
            <th scope="col">Prefix</th>
            <th scope="col">Bindings</th>
            <th scope="col">Created</th>
            <th scope="col">Revoked</th>
            <th scope="col"><span class="sr-only">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          ${keys.map(
            (k) =>
              html`<tr>
                <td><code>${k.name}</code></td>
                <td>${k.displayName}</td>
                <td><code>${k.keyPrefix}</code></td>
                <td>
                  ${k.superuser ? 'operator (every property)' : k.bindings.map((b) => `${b.property}: ${b.role}`).join(', ')}
                </td>
                <td>${fmtTime(k.createTime)}</td>
                <td>${fmtTime(k.revokeTime)}</td>
                <td>
                  ${!k.revokeTime && !k.superuser && html`<${Button} onClick=${() => revoke(k)}>Revoke</${Button}>`}
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
    </${TableWrap}>`
    }
  </section>`;
}
