// Shared pieces: the htm tag, small components, and the uPlot chart wrapper. Every text from data
// goes through Preact as a text node (never innerHTML), so markup in event names stays text.
import { h } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import htm from 'htm';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export const html = htm.bind(h);

/** An error returned by the API (or a network failure), as a message box. */
export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<div class="error" role="alert">
    <strong>${error.code ?? 'Error'}</strong>: ${error.message}
  </div>`;
}

export function Notice({ children }) {
  return html`<p class="notice">${children}</p>`;
}

/** Buttons that need a role are disabled (with the reason) for keys that lack it. */
export function Button({ disabled, reason, onClick, children, kind = '', type = 'button', ...rest }) {
  return html`<button
    type=${type}
    class=${kind}
    disabled=${disabled}
    title=${disabled && reason ? reason : undefined}
    onClick=${onClick}
    ...${rest}
  >
    ${children}
  </button>`;
}

export function fmtTime(rfc) {
  if (!rfc) return '';
  const d = new Date(rfc);
  return Number.isNaN(d.getTime()) ? String(rfc) : d.toLocaleString();
}

/** A line or bar chart with uPlot; `x` in seconds since epoch. */
export function Chart({ label, x, series, height = 220, bars = false }) {
  const el = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    if (!el.current) return undefined;
    const width = Math.max(320, el.current.clientWidth || 640);
    const opts = {
      width,
      height,
      legend: { show: true },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color ?? '#1a56db',
          width: 2,
          fill: bars ? 'rgba(26,86,219,0.25)' : undefined,
          paths: bars ? uPlot.paths.bars({ size: [0.8, 60] }) : undefined,
          points: { show: !bars },
        })),
      ],
      axes: [{ stroke: '#333' }, { stroke: '#333' }],
    };
    const data = [x, ...series.map((s) => s.values)];
    plot.current?.destroy();
    plot.current = new uPlot(opts, data, el.current);
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [JSON.stringify(x), JSON.stringify(series.map((s) => s.values))]);
  return html`<figure class="chart">
    <figcaption>${label}</figcaption>
    <div ref=${el} role="img" aria-label=${label}></div>
  </figure>`;
}

/** A scrollable table region (focusable, so keyboard users can scroll it). */
export function TableWrap({ label, children }) {
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label=${label}>${children}</div>`;
}

/** Copies text to the clipboard, falling back to selecting it for the user. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
