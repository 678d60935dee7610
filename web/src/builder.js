// The audience builder: a form over the Admin API `Audience` JSON (the model is that JSON itself),
// a JSON view kept in sync both ways, the exact size now (debounced, POST …/audiences:evaluate),
// the size over the last 30 days (…/audiences:sizeHistory), and the API's field violations shown
// at the field they name. Violation paths are snake_case (`filter_clauses[0].simple_filter.scope`);
// every input carries the snake_case path of the field it edits in data-field.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.js';
import { html, ErrorBox, Button, Chart } from './ui.js';

export const SCOPES = [
  ['AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT', 'Within the same event'],
  ['AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION', 'Within the same session'],
  ['AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS', 'Across all sessions'],
];
const MATCH_TYPES = ['EXACT', 'BEGINS_WITH', 'ENDS_WITH', 'CONTAINS', 'FULL_REGEXP'];
const OPERATIONS = [
  ['EQUAL', '='],
  ['LESS_THAN', '<'],
  ['GREATER_THAN', '>'],
];
const FILTER_KINDS = [
  ['stringFilter', 'text'],
  ['inListFilter', 'in list'],
  ['numericFilter', 'number'],
  ['betweenFilter', 'between'],
];

export function newAudience() {
  return {
    displayName: 'New audience',
    description: 'Built in the audex console',
    membershipDurationDays: 30,
    filterClauses: [newClause('INCLUDE', 'page_view')],
  };
}

function newEventLeaf(name = '') {
  return { eventFilter: { eventName: name } };
}

function newExpression(eventName = '') {
  return { andGroup: { filterExpressions: [{ orGroup: { filterExpressions: [newEventLeaf(eventName)] } }] } };
}

function newClause(type, eventName = '') {
  return {
    clauseType: type,
    simpleFilter: {
      scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
      filterExpression: newExpression(eventName),
    },
  };
}

function newStep() {
  return { scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT', filterExpression: newExpression() };
}

function newDimFilter() {
  return { fieldName: '', stringFilter: { matchType: 'EXACT', value: '' } };
}

/** lowerCamel path segments → the API's snake_case field path. */
export function snakePath(path) {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += (out ? '.' : '') + seg.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  }
  return out;
}

function getIn(obj, path) {
  return path.reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

/** A copy of obj with the value at path replaced (undefined deletes a key). */
function setIn(obj, path, value) {
  const copy = structuredClone(obj);
  let o = copy;
  for (const k of path.slice(0, -1)) o = o[k];
  const last = path[path.length - 1];
  if (value === undefined) {
    if (Array.isArray(o)) o.splice(last, 1);
    else delete o[last];
  } else o[last] = value;
  return copy;
}

function numericToText(v) {
  if (!v) return '';
  return v.int64Value !== undefined
    ? String(v.int64Value)
    : v.doubleValue !== undefined
      ? String(v.doubleValue)
      : '';
}

function textToNumeric(s) {
  const t = s.trim();
  if (/^-?\d+$/.test(t)) return { int64Value: t };
  if (t === '') return { int64Value: '' };
  const n = Number(t);
  return Number.isFinite(n) ? { doubleValue: n } : { doubleValue: t };
}

function durationToSeconds(d) {
  const m = /^(\d+(?:\.\d+)?)s$/.exec(d ?? '');
  return m ? m[1] : '';
}

/** The editing context handed down the form: read, write, and the violations by field path. */
function useCtx(def, setDef, violations, readOnly) {
  const byField = new Map();
  for (const v of violations) {
    const list = byField.get(v.field) ?? [];
    list.push(v.description);
    byField.set(v.field, list);
  }
  return {
    readOnly,
    get: (path) => getIn(def, path),
    set: (path, value) => setDef(setIn(def, path, value)),
    violations: (path) => byField.get(snakePath(path)) ?? [],
  };
}

/** A labelled input bound to one field; shows that field's violations under it. */
function Field({ ctx, path, label, type = 'text', options, placeholder, list, transform }) {
  const field = snakePath(path);
  const errs = ctx.violations(path);
  const raw = ctx.get(path);
  const value = transform ? transform.toInput(raw) : raw;
  const errId = `err-${field.replace(/[^a-z0-9]/gi, '-')}`;
  const onValue = (v) => ctx.set(path, transform ? transform.fromInput(v) : v);
  let input;
  if (options) {
    input = html`<select
      aria-label=${label}
      data-field=${field}
      disabled=${ctx.readOnly}
      aria-invalid=${errs.length > 0 ? 'true' : undefined}
      aria-describedby=${errs.length > 0 ? errId : undefined}
      value=${value ?? ''}
      onChange=${(e) => onValue(e.currentTarget.value === '' ? undefined : e.currentTarget.value)}
    >
      ${options.map(([v, text]) => html`<option value=${v}>${text}</option>`)}
    </select>`;
  } else if (type === 'checkbox') {
    input = html`<input
      type="checkbox"
      data-field=${field}
      disabled=${ctx.readOnly}
      checked=${!!value}
      onChange=${(e) => onValue(e.currentTarget.checked ? true : undefined)}
    />`;
  } else {
    input = html`<input
      type=${type}
      data-field=${field}
      readonly=${ctx.readOnly}
      placeholder=${placeholder}
      list=${list}
      aria-invalid=${errs.length > 0 ? 'true' : undefined}
      aria-describedby=${errs.length > 0 ? errId : undefined}
      value=${value ?? ''}
      onInput=${(e) => onValue(e.currentTarget.value)}
    />`;
  }
  return html`<div class=${`field ${type === 'checkbox' ? 'check' : ''} ${errs.length ? 'invalid' : ''}`}>
    <label
      >${type === 'checkbox' ? input : null}<span>${label}</span>${type === 'checkbox' ? null : input}</label
    >
    ${
      errs.length > 0 &&
      html`<div class="violation" id=${errId} data-violation-for=${field} role="alert">
        ${errs.join(' ')}
      </div>`
    }
  </div>`;
}

const INT = {
  toInput: (v) => (v === undefined ? '' : String(v)),
  fromInput: (s) => (s.trim() === '' ? undefined : /^-?\d+$/.test(s.trim()) ? Number(s) : s),
};
const SECONDS = {
  toInput: durationToSeconds,
  fromInput: (s) => (s.trim() === '' ? undefined : `${s.trim()}s`),
};
const NUMERIC = { toInput: numericToText, fromInput: textToNumeric };
const LINES = {
  toInput: (v) => (v ?? []).join(', '),
  fromInput: (s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x, i, all) => x !== '' || i < all.length - 1),
};

/** One dimensionOrMetricFilter at path. */
function DimFilter({ ctx, path, inEvent }) {
  const f = ctx.get(path) ?? {};
  const kind = FILTER_KINDS.find(([k]) => f[k] !== undefined)?.[0] ?? 'stringFilter';
  const setKind = (k) => {
    const next = { fieldName: f.fieldName ?? '' };
    if (f.atAnyPointInTime) next.atAnyPointInTime = true;
    if (f.inAnyNDayPeriod) next.inAnyNDayPeriod = f.inAnyNDayPeriod;
    next[k] =
      k === 'stringFilter'
        ? { matchType: 'EXACT', value: '' }
        : k === 'inListFilter'
          ? { values: [] }
          : k === 'numericFilter'
            ? { operation: 'GREATER_THAN', value: { int64Value: '0' } }
            : { fromValue: { int64Value: '0' }, toValue: { int64Value: '10' } };
    ctx.set(path, next);
  };
  return html`<div class="dimfilter">
    <${Field}
      ctx=${ctx}
      path=${[...path, 'fieldName']}
      label=${inEvent ? 'Parameter or field' : 'Dimension or metric'}
      list="audex-fields"
      placeholder=${inEvent ? 'e.g. value, page_location, eventCount' : 'e.g. countryId, purchaseRevenue'}
    />
    <div class="field">
      <label
        ><span>Filter</span>
        <select
          aria-label="Filter type"
          disabled=${ctx.readOnly}
          value=${kind}
          onChange=${(e) => setKind(e.currentTarget.value)}
        >
          ${FILTER_KINDS.map(([k, t]) => html`<option value=${k}>${t}</option>`)}
        </select></label
      >
    </div>
    ${
      kind === 'stringFilter' &&
      html`<${Field}
          ctx=${ctx}
          path=${[...path, 'stringFilter', 'matchType']}
          label="Match"
          options=${MATCH_TYPES.map((m) => [m, m.toLowerCase().replace('_', ' ')])}
        />
        <${Field} ctx=${ctx} path=${[...path, 'stringFilter', 'value']} label="Value" />
        <${Field}
          ctx=${ctx}
          path=${[...path, 'stringFilter', 'caseSensitive']}
          label="Case sensitive"
          type="checkbox"
        />`
    }
    ${
      kind === 'inListFilter' &&
      html`<${Field}
          ctx=${ctx}
          path=${[...path, 'inListFilter', 'values']}
          label="Values (comma-separated)"
          transform=${LINES}
        />
        <${Field}
          ctx=${ctx}
          path=${[...path, 'inListFilter', 'caseSensitive']}
          label="Case sensitive"
          type="checkbox"
        />`
    }
    ${
      kind === 'numericFilter' &&
      html`<${Field}
          ctx=${ctx}
          path=${[...path, 'numericFilter', 'operation']}
          label="Operation"
          options=${OPERATIONS}
        />
        <${Field}
          ctx=${ctx}
          path=${[...path, 'numericFilter', 'value']}
          label="Number"
          transform=${NUMERIC}
        />`
    }
    ${
      kind === 'betweenFilter' &&
      html`<${Field}
          ctx=${ctx}
          path=${[...path, 'betweenFilter', 'fromValue']}
          label="From"
          transform=${NUMERIC}
        />
        <${Field}
          ctx=${ctx}
          path=${[...path, 'betweenFilter', 'toValue']}
          label="To (inclusive)"
          transform=${NUMERIC}
        />`
    }
    <${Field} ctx=${ctx} path=${[...path, 'atAnyPointInTime']} label="At any point in time" type="checkbox" />
    <${Field}
      ctx=${ctx}
      path=${[...path, 'inAnyNDayPeriod']}
      label="In any N-day period"
      type="number"
      transform=${INT}
    />
  </div>`;
}

/** The eventParameterFilterExpression of an event filter: an AND of (NOT) parameter filters. */
function ParamFilters({ ctx, path }) {
  const expr = ctx.get(path);
  const items = expr?.andGroup?.filterExpressions ?? [];
  const itemsPath = [...path, 'andGroup', 'filterExpressions'];
  const add = () => {
    const next = { andGroup: { filterExpressions: [...items, { dimensionOrMetricFilter: newDimFilter() }] } };
    ctx.set(path, next);
  };
  const remove = (i) => {
    const rest = items.filter((_, j) => j !== i);
    ctx.set(path, rest.length ? { andGroup: { filterExpressions: rest } } : undefined);
  };
  const toggleNot = (i, item) =>
    ctx.set(
      [...itemsPath, i],
      item.notExpression
        ? { dimensionOrMetricFilter: item.notExpression.dimensionOrMetricFilter }
        : { notExpression: { dimensionOrMetricFilter: item.dimensionOrMetricFilter } },
    );
  return html`<div class="params">
    ${items.map(
      (item, i) =>
        html`<div class="param">
          <label class="inline"
            ><input
              type="checkbox"
              disabled=${ctx.readOnly}
              checked=${!!item.notExpression}
              onChange=${() => toggleNot(i, item)}
            />
            NOT</label
          >
          <${DimFilter}
            ctx=${ctx}
            path=${
              item.notExpression
                ? [...itemsPath, i, 'notExpression', 'dimensionOrMetricFilter']
                : [...itemsPath, i, 'dimensionOrMetricFilter']
            }
            inEvent=${true}
          />
          ${!ctx.readOnly && html`<${Button} kind="small" onClick=${() => remove(i)}>Remove parameter filter</${Button}>`}
        </div>`,
    )}
    ${!ctx.readOnly && html`<${Button} kind="small" onClick=${add}>+ Parameter filter</${Button}>`}
  </div>`;
}

/** One leaf of an OR group: an event filter, a dimension/metric filter, or NOT of one. */
function Leaf({ ctx, path }) {
  const leaf = ctx.get(path) ?? {};
  const kind = leaf.eventFilter ? 'event' : leaf.notExpression ? 'not' : 'dim';
  const setKind = (k) =>
    ctx.set(
      path,
      k === 'event'
        ? newEventLeaf()
        : k === 'dim'
          ? { dimensionOrMetricFilter: leaf.notExpression?.dimensionOrMetricFilter ?? newDimFilter() }
          : { notExpression: { dimensionOrMetricFilter: leaf.dimensionOrMetricFilter ?? newDimFilter() } },
    );
  return html`<div class="leaf">
    <div class="field">
      <label
        ><span>Condition</span>
        <select
          aria-label="Condition"
          disabled=${ctx.readOnly}
          value=${kind}
          onChange=${(e) => setKind(e.currentTarget.value)}
        >
          <option value="event">Event</option>
          <option value="dim">Dimension or metric</option>
          <option value="not">NOT dimension or metric</option>
        </select></label
      >
    </div>
    ${
      kind === 'event' &&
      html`<${Field}
          ctx=${ctx}
          path=${[...path, 'eventFilter', 'eventName']}
          label="Event name"
          placeholder="e.g. purchase"
        />
        <${ParamFilters} ctx=${ctx} path=${[...path, 'eventFilter', 'eventParameterFilterExpression']} />`
    }
    ${kind === 'dim' && html`<${DimFilter} ctx=${ctx} path=${[...path, 'dimensionOrMetricFilter']} />`}
    ${kind === 'not' && html`<${DimFilter} ctx=${ctx} path=${[...path, 'notExpression', 'dimensionOrMetricFilter']} />`}
  </div>`;
}

/** A filterExpression: an AND of OR groups of leaves. */
function Expression({ ctx, path }) {
  const groups = ctx.get([...path, 'andGroup', 'filterExpressions']) ?? [];
  const gPath = [...path, 'andGroup', 'filterExpressions'];
  return html`<div class="expr" data-field=${snakePath(path)}>
    ${groups.map((g, gi) => {
      const leaves = g.orGroup?.filterExpressions ?? [];
      const lPath = [...gPath, gi, 'orGroup', 'filterExpressions'];
      return html`${gi > 0 && html`<div class="joiner">AND</div>`}
        <div class="orgroup">
          ${leaves.map(
            (_, li) =>
              html`${li > 0 && html`<div class="joiner">OR</div>`}
                <div class="leafbox">
                  <${Leaf} ctx=${ctx} path=${[...lPath, li]} />
                  ${
                    !ctx.readOnly &&
                    html`<${Button}
                  kind="small"
                  onClick=${() =>
                    leaves.length > 1
                      ? ctx.set([...lPath, li], undefined)
                      : ctx.set([...gPath, gi], undefined)}
                  >Remove condition</${Button}
                >`
                  }
                </div>`,
          )}
          ${
            !ctx.readOnly &&
            html`<${Button} kind="small" onClick=${() => ctx.set([...lPath, leaves.length], newEventLeaf())}
            >+ OR condition</${Button}
          >`
          }
        </div>`;
    })}
    ${
      !ctx.readOnly &&
      html`<${Button}
      kind="small"
      onClick=${() => ctx.set([...gPath, groups.length], { orGroup: { filterExpressions: [newEventLeaf()] } })}
      >+ AND group</${Button}
    >`
    }
  </div>`;
}

function Clause({ ctx, index }) {
  const path = ['filterClauses', index];
  const clause = ctx.get(path);
  const isSeq = !!clause.sequenceFilter;
  const toggleKind = (seq) =>
    ctx.set(path, {
      clauseType: clause.clauseType,
      ...(seq
        ? {
            sequenceFilter: {
              scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
              sequenceSteps: [newStep(), { ...newStep(), immediatelyFollows: false }],
            },
          }
        : {
            simpleFilter: {
              scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
              filterExpression: newExpression(),
            },
          }),
    });
  const steps = clause.sequenceFilter?.sequenceSteps ?? [];
  const sPath = [...path, 'sequenceFilter', 'sequenceSteps'];
  return html`<fieldset class=${`clause ${clause.clauseType === 'EXCLUDE' ? 'exclude' : 'include'}`}>
    <legend>Clause ${index + 1}</legend>
    <div class="row">
      <${Field}
        ctx=${ctx}
        path=${[...path, 'clauseType']}
        label="Type"
        options=${[
          ['INCLUDE', 'Include users when'],
          ['EXCLUDE', 'Exclude users when'],
        ]}
      />
      <div class="field">
        <label
          ><span>Filter kind</span>
          <select
            data-testid="clause-kind"
            aria-label="Filter kind"
            disabled=${ctx.readOnly}
            value=${isSeq ? 'sequence' : 'simple'}
            onChange=${(e) => toggleKind(e.currentTarget.value === 'sequence')}
          >
            <option value="simple">Conditions</option>
            <option value="sequence">Sequence</option>
          </select></label
        >
      </div>
      ${!ctx.readOnly && html`<${Button} kind="small" onClick=${() => ctx.set(path, undefined)}>Remove clause</${Button}>`}
    </div>
    ${
      !isSeq &&
      html`<${Field} ctx=${ctx} path=${[...path, 'simpleFilter', 'scope']} label="Scope" options=${SCOPES} />
        <${Expression} ctx=${ctx} path=${[...path, 'simpleFilter', 'filterExpression']} />`
    }
    ${
      isSeq &&
      html`<div class="row">
          <${Field}
            ctx=${ctx}
            path=${[...path, 'sequenceFilter', 'scope']}
            label="Sequence scope"
            options=${SCOPES}
          />
          <${Field}
            ctx=${ctx}
            path=${[...path, 'sequenceFilter', 'sequenceMaximumDuration']}
            label="Maximum sequence duration (seconds)"
            type="number"
            transform=${SECONDS}
          />
        </div>
        <ol class="steps">
          ${steps.map(
            (step, si) =>
              html`<li class="step">
                <h4>Step ${si + 1}</h4>
                ${
                  si > 0 &&
                  html`<div class="row">
                    <${Field}
                      ctx=${ctx}
                      path=${[...sPath, si, 'immediatelyFollows']}
                      label="Directly followed by (no event in between)"
                      type="checkbox"
                    />
                    <${Field}
                      ctx=${ctx}
                      path=${[...sPath, si, 'constraintDuration']}
                      label="Within (seconds of the previous step)"
                      type="number"
                      transform=${SECONDS}
                    />
                  </div>`
                }
                <${Field} ctx=${ctx} path=${[...sPath, si, 'scope']} label="Step scope" options=${SCOPES} />
                <${Expression} ctx=${ctx} path=${[...sPath, si, 'filterExpression']} />
                ${
                  !ctx.readOnly &&
                  steps.length > 1 &&
                  html`<${Button} kind="small" onClick=${() => ctx.set([...sPath, si], undefined)}>Remove step</${Button}>`
                }
              </li>`,
          )}
        </ol>
        ${!ctx.readOnly && html`<${Button} kind="small" onClick=${() => ctx.set([...sPath, steps.length], newStep())}>+ Step</${Button}>`}`
    }
  </fieldset>`;
}

/** The definition without output-only fields: what create and evaluate take. */
export function inputOf(audience) {
  const { name: _n, createTime: _c, adsPersonalizationEnabled: _a, ...rest } = audience;
  return rest;
}

export function Builder({ property, fieldNames, canWrite, initial, onSaved }) {
  const [def, setDefRaw] = useState(() => initial ?? newAudience());
  const [jsonText, setJsonText] = useState(() => JSON.stringify(def, null, 2));
  const [jsonError, setJsonError] = useState(null);
  const [violations, setViolations] = useState([]);
  const [size, setSize] = useState(null);
  const [sizeError, setSizeError] = useState(null);
  const [evaluating, setEvaluating] = useState(false);
  const [history, setHistory] = useState(null);
  const [saveError, setSaveError] = useState(null);
  const [saved, setSaved] = useState(null);
  const seq = useRef(0);
  const readOnly = !!initial?.name;

  const setDef = (next) => {
    setDefRaw(next);
    setJsonText(JSON.stringify(next, null, 2));
    setJsonError(null);
  };
  const ctx = useCtx(def, setDef, violations, readOnly);

  // Size now, debounced: every edit restarts the wait; a stale answer is dropped.
  useEffect(() => {
    const mine = ++seq.current;
    const timer = setTimeout(async () => {
      setEvaluating(true);
      try {
        const r = await api.post(`/audex/v1/${property}/audiences:evaluate`, inputOf(def));
        if (mine !== seq.current) return;
        setSize(r);
        setSizeError(null);
        setViolations([]);
      } catch (err) {
        if (mine !== seq.current) return;
        setSize(null);
        setSizeError(err);
        setViolations(err.violations ?? []);
      } finally {
        if (mine === seq.current) setEvaluating(false);
      }
    }, 500);
    return () => clearTimeout(timer);
  }, [JSON.stringify(def), property]);

  // The 30-day chart follows a valid definition, after a longer pause (30 evaluations).
  useEffect(() => {
    if (!size) return undefined;
    const mine = seq.current;
    const timer = setTimeout(async () => {
      try {
        const r = await api.post(`/audex/v1/${property}/audiences:sizeHistory`, inputOf(def));
        if (mine === seq.current) setHistory(r);
      } catch {
        // the size box already shows why the definition cannot be evaluated
      }
    }, 1500);
    return () => clearTimeout(timer);
  }, [size]);

  const onJson = (text) => {
    setJsonText(text);
    try {
      const parsed = JSON.parse(text);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new Error('the audience must be a JSON object');
      setDefRaw(parsed);
      setJsonError(null);
    } catch (err) {
      setJsonError(err.message);
    }
  };

  const save = async () => {
    setSaveError(null);
    setSaved(null);
    try {
      const a = await api.post(`/v1alpha/${property}/audiences`, inputOf(def));
      setSaved(a);
      setViolations([]);
      onSaved?.(a);
    } catch (err) {
      setSaveError(err);
      setViolations(err.violations ?? []);
    }
  };

  const trigger = def.eventTrigger;
  const clauses = def.filterClauses ?? [];
  const unplaced = violations.filter((v) => !document.querySelector(`[data-field="${CSS.escape(v.field)}"]`));

  return html`<section class="builder" aria-labelledby="builder-title">
    <h2 id="builder-title">${readOnly ? `Audience ${def.displayName ?? ''}` : 'Build an audience'}</h2>
    ${readOnly && html`<p class="notice">A saved audience's clauses cannot change; this view is read-only. Its size below is computed now.</p>`}
    <datalist id="audex-fields">
      ${[...(fieldNames?.dimensions ?? []), ...(fieldNames?.metrics ?? []), 'eventCount'].map(
        (f) => html`<option value=${f}></option>`,
      )}
    </datalist>
    <div class="builder-grid">
      <div class="form">
        <fieldset>
          <legend>Audience</legend>
          <${Field} ctx=${ctx} path=${['displayName']} label="Display name" />
          <${Field} ctx=${ctx} path=${['description']} label="Description" />
          <div class="row">
            <${Field}
              ctx=${ctx}
              path=${['membershipDurationDays']}
              label="Membership duration (days, 1–540)"
              type="number"
              transform=${INT}
            />
            <${Field}
              ctx=${ctx}
              path=${['exclusionDurationMode']}
              label="Exclusion duration"
              options=${[
                ['', 'Default (temporarily)'],
                ['EXCLUDE_TEMPORARILY', 'Exclude temporarily'],
                ['EXCLUDE_PERMANENTLY', 'Exclude permanently'],
              ]}
            />
          </div>
          <div class="row">
            <div class="field check">
              <label
                ><input
                  type="checkbox"
                  disabled=${readOnly}
                  checked=${!!trigger}
                  onChange=${(e) =>
                    ctx.set(
                      ['eventTrigger'],
                      e.currentTarget.checked
                        ? { eventName: 'audience_joined', logCondition: 'AUDIENCE_JOINED' }
                        : undefined,
                    )}
                /><span>Log an event when users join (event trigger)</span></label
              >
            </div>
            ${
              trigger &&
              html`<${Field} ctx=${ctx} path=${['eventTrigger', 'eventName']} label="Trigger event name" />
                <${Field}
                  ctx=${ctx}
                  path=${['eventTrigger', 'logCondition']}
                  label="Log when"
                  options=${[
                    ['AUDIENCE_JOINED', 'a user joins'],
                    ['AUDIENCE_MEMBERSHIP_RENEWED', 'a user joins or renews'],
                  ]}
                />`
            }
          </div>
        </fieldset>
        ${clauses.map((_, i) => html`<${Clause} ctx=${ctx} index=${i} />`)}
        ${
          !readOnly &&
          html`<div class="row">
          <${Button} onClick=${() => ctx.set(['filterClauses', clauses.length], newClause('INCLUDE'))}>+ Include clause</${Button}>
          <${Button} onClick=${() => ctx.set(['filterClauses', clauses.length], newClause('EXCLUDE'))}>+ Exclude clause</${Button}>
        </div>`
        }
      </div>
      <div class="side">
        <div class="size" aria-live="polite" data-testid="size">
          <h3>Size now</h3>
          ${
            size &&
            html`<p>
              <span class="big" data-testid="member-count">${Number(size.memberCount).toLocaleString()}</span>
              users
              <span class="muted"> (exact, evaluated in ${size.elapsedMs} ms)</span>
            </p>`
          }
          ${evaluating && html`<p class="muted">Evaluating…</p>`}
          ${sizeError && !evaluating && html`<${ErrorBox} error=${sizeError} />`}
        </div>
        ${
          history &&
          html`<${Chart}
            label="Members at the end of each of the last 30 days"
            x=${history.days.map((d) => Date.parse(d.date + 'T12:00:00Z') / 1000)}
            series=${[{ label: 'members', values: history.days.map((d) => Number(d.memberCount)) }]}
            height=${180}
          />`
        }
        ${
          unplaced.length > 0 &&
          html`<div class="error" role="alert">
            <strong>Problems</strong>
            <ul>
              ${unplaced.map((v) => html`<li><code>${v.field || '(definition)'}</code>: ${v.description}</li>`)}
            </ul>
          </div>`
        }
        ${
          !readOnly &&
          html`<${Button} kind="primary" disabled=${!canWrite || !!jsonError} reason="Saving needs the editor role" onClick=${save}
          >Save audience</${Button}
        >`
        }
        ${saveError && html`<${ErrorBox} error=${saveError} />`}
        ${saved && html`<p class="ok" role="status">Saved as <code>${saved.name}</code>.</p>`}
        <label class="json-label" for="audience-json">JSON (edit either side)</label>
        <textarea
          id="audience-json"
          class="json"
          spellcheck="false"
          readonly=${readOnly}
          value=${jsonText}
          onInput=${(e) => onJson(e.currentTarget.value)}
        ></textarea>
        ${jsonError && html`<div class="error" role="alert">JSON: ${jsonError}</div>`}
      </div>
    </div>
  </section>`;
}
