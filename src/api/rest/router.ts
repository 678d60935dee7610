// Matches requests against google.api.http path templates such as
// `/v1beta/{name=properties/*/audienceExports/*}:query` and `/v1alpha/{parent=properties/*}/audiences`.
// A variable without a pattern (`{name}`) matches one segment; `*` one segment, `**` the rest.

export interface RouteMatch<H> {
  handler: H;
  params: Record<string, string>;
}

interface CompiledRoute<H> {
  method: string;
  regex: RegExp;
  names: string[];
  handler: H;
}

const SEGMENT = '[^/:]+';

function compileTemplate(template: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  let pattern = '';
  let i = 0;
  while (i < template.length) {
    const ch = template[i]!;
    if (ch === '{') {
      const end = template.indexOf('}', i);
      const body = template.slice(i + 1, end);
      const [name, sub] = body.includes('=') ? body.split('=', 2) : [body, '*'];
      names.push(name!);
      const inner = sub!
        .split('/')
        .map((part) => (part === '**' ? '.+' : part === '*' ? SEGMENT : escape(part)))
        .join('/');
      pattern += `(${inner})`;
      i = end + 1;
    } else {
      pattern += escape(ch);
      i += 1;
    }
  }
  return { regex: new RegExp(`^${pattern}$`), names };
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class Router<H> {
  private readonly routes: CompiledRoute<H>[] = [];

  add(method: string, template: string, handler: H): this {
    const { regex, names } = compileTemplate(template);
    this.routes.push({ method, regex, names, handler });
    return this;
  }

  /** The matching route, or 'method-not-allowed' when only the path matches, or null. */
  match(method: string, path: string): RouteMatch<H> | 'method-not-allowed' | null {
    let pathMatched = false;
    for (const r of this.routes) {
      const m = r.regex.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== method) continue;
      const params: Record<string, string> = {};
      r.names.forEach((n, idx) => (params[n] = m[idx + 1]!));
      return { handler: r.handler, params };
    }
    return pathMatched ? 'method-not-allowed' : null;
  }
}
