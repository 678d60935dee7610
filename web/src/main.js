// The audex console: sign in with an API key, pick a property, then audiences (list and builder),
// exports, audience lists, collection and keys. It talks to the public API only (see api.js).
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, session, onApiError, listAll } from './api.js';
import { html, ErrorBox, Button, TableWrap, fmtTime } from './ui.js';
import { Builder, inputOf } from './builder.js';
import { Exports } from './exports.js';
import { Collection } from './collection.js';
import { Keys } from './keys.js';
import './style.css';

const SCREENS = [
  ['audiences', 'Audiences'],
  ['builder', 'Builder'],
  ['exports', 'Exports'],
  ['lists', 'Audience lists'],
  ['collection', 'Collection'],
  ['keys', 'Keys'],
];

function SignIn({ message, onSignedIn }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const who = await api.get('/audex/v1/session', { key });
      session.signIn(key);
      onSignedIn(who);
    } catch (err) {
      setError(
        err.status === 401
          ? { code: 'Wrong key', message: 'This API key is not valid: it is unknown or has been revoked.' }
          : err,
      );
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="signin">
    <h1>audex console</h1>
    ${message && html`<p class="notice" role="status">${message}</p>`}
    <form onSubmit=${submit} aria-label="Sign in">
      <div class="field">
        <label><span>API key</span><input type="password" autocomplete="current-password" value=${key} onInput=${(e) => setKey(e.currentTarget.value)} required /></label>
      </div>
      <${Button} type="submit" kind="primary" disabled=${busy}>Sign in</${Button}>
    </form>
    <${ErrorBox} error=${error} />
    <p class="muted">The key is kept in this tab only (session storage) and sent as an Authorization header.</p>
  </main>`;
}

function Audiences({ property, role, onOpen }) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    listAll(`/v1alpha/${property}/audiences`, 'audiences').then(
      (l) => (setItems(l), setError(null)),
      setError,
    );
  }, [property, tick]);
  const canWrite = role === 'editor' || role === 'admin';
  const archive = (a) => api.post(`/v1alpha/${a.name}:archive`).then(() => setTick((t) => t + 1), setError);
  return html`<section aria-labelledby="aud-title">
    <h2 id="aud-title">Audiences</h2>
    <${Button} kind="primary" onClick=${() => onOpen(null)}>New audience</${Button}>
    <${ErrorBox} error=${error} />
    ${
      items &&
      html`<${TableWrap} label="Audiences">
      <table data-testid="audiences">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Description</th>
            <th scope="col">Membership</th>
            <th scope="col">Created</th>
            <th scope="col"><span class="sr-only">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          ${items.map(
            (a) => html`<tr>
              <td class="display-name">${a.displayName}</td>
              <td>${a.description}</td>
              <td>${a.membershipDurationDays} days</td>
              <td>${fmtTime(a.createTime)}</td>
              <td>
                <${Button} onClick=${() => onOpen(a)}>Open</${Button}>
                <${Button} disabled=${!canWrite} reason="Archiving needs the editor role" onClick=${() => archive(a)}
                  >Archive</${Button}
                >
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
    </${TableWrap}>`
    }
  </section>`;
}

function roleFor(who, property) {
  if (!who) return null;
  if (who.superuser) return 'admin';
  return who.bindings.find((b) => b.property === property)?.role ?? null;
}

function currentScreen() {
  const s = location.hash.replace(/^#\/?/, '');
  return SCREENS.some(([k]) => k === s) ? s : 'audiences';
}

function App() {
  const [who, setWho] = useState(null);
  const [checking, setChecking] = useState(!!session.key());
  const [message, setMessage] = useState(null);
  const [banner, setBanner] = useState(null);
  const [properties, setProperties] = useState([]);
  const [property, setProperty] = useState(sessionStorage.getItem('audex.property') ?? '');
  const [screen, setScreen] = useState(currentScreen());
  const [opened, setOpened] = useState(null);

  useEffect(() => {
    const onHash = () => setScreen(currentScreen());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  // Global problems: the server going away, or the key being revoked mid-session.
  useEffect(
    () =>
      onApiError((err) => {
        if (err.status === 0) setBanner(err.message);
        else if (err.status === 401 && session.key()) {
          session.signOut();
          setWho(null);
          setMessage('Your API key is no longer valid (revoked or unknown). Sign in again.');
        }
      }),
    [],
  );

  useEffect(() => {
    if (!session.key()) return;
    api.get('/audex/v1/session').then(
      (w) => (setWho(w), setChecking(false)),
      () => setChecking(false),
    );
  }, []);

  useEffect(() => {
    if (!who) return;
    listAll('/v1beta/properties?filter=parent:accounts/1', 'properties').then(
      (ps) => {
        setProperties(ps);
        if (!ps.some((p) => p.name === property)) setProperty(ps[0]?.name ?? '');
      },
      () => {},
    );
  }, [who]);

  useEffect(() => {
    if (property) sessionStorage.setItem('audex.property', property);
  }, [property]);

  if (checking) return html`<main><p>Loading…</p></main>`;
  if (!who)
    return html`<${SignIn}
      message=${message}
      onSignedIn=${(w) => {
        setMessage(null);
        setBanner(null);
        setWho(w);
      }}
    />`;

  const role = roleFor(who, property);
  const isAdminSomewhere = who.superuser || who.bindings.some((b) => b.role === 'admin');
  const signOut = () => {
    session.signOut();
    setWho(null);
    setMessage('Signed out.');
  };
  const go = (s) => (location.hash = `#/${s}`);

  return html`<div class="shell">
    <header>
      <span class="brand">audex</span>
      <div class="field property-picker">
        <label
          ><span>Property</span>
          <select aria-label="Property" value=${property} onChange=${(e) => setProperty(e.currentTarget.value)}>
            ${properties.map((p) => html`<option value=${p.name}>${p.displayName} (${p.name})</option>`)}
          </select></label
        >
      </div>
      <span class="role" data-testid="role">${role ? `role: ${role}` : 'no access to this property'}</span>
      <${Button} onClick=${signOut}>Sign out</${Button}>
    </header>
    ${
      banner &&
      html`<div class="error banner" role="alert" data-testid="banner">
      ${banner} <${Button} kind="small" onClick=${() => setBanner(null)}>Dismiss</${Button}>
    </div>`
    }
    <nav aria-label="Screens">
      <ul>
        ${SCREENS.filter(([k]) => k !== 'keys' || isAdminSomewhere).map(
          ([k, label]) =>
            html`<li><a href=${`#/${k}`} aria-current=${screen === k ? 'page' : undefined}>${label}</a></li>`,
        )}
      </ul>
    </nav>
    <main>
      ${!property && html`<p class="notice">This key sees no property yet.</p>`}
      ${
        property &&
        screen === 'audiences' &&
        html`<${Audiences}
          property=${property}
          role=${role}
          onOpen=${(a) => {
            setOpened(a ? { ...inputOf(a), name: a.name } : null);
            go('builder');
          }}
        />`
      }
      ${
        property &&
        screen === 'builder' &&
        html`<${Builder}
          key=${`${property}|${opened?.name ?? 'new'}`}
          property=${property}
          fieldNames=${who.fieldNames}
          canWrite=${role === 'editor' || role === 'admin'}
          initial=${opened}
        />`
      }
      ${property && screen === 'exports' && html`<${Exports} property=${property} kind="exports" role=${role} />`}
      ${property && screen === 'lists' && html`<${Exports} property=${property} kind="lists" role=${role} />`}
      ${property && screen === 'collection' && html`<${Collection} property=${property} role=${role} />`}
      ${screen === 'keys' && isAdminSomewhere && html`<${Keys} properties=${properties} />`}
      ${screen === 'keys' && !isAdminSomewhere && html`<p class="notice">Keys are managed with an admin key.</p>`}
    </main>
  </div>`;
}

render(html`<${App} />`, document.getElementById('app'));
