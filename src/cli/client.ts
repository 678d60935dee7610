// The CLI's HTTP client: every command goes through the public API with the caller's key.

export class ApiClientError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly status: string,
    message: string,
  ) {
    super(message);
  }
}

export class AudexClient {
  constructor(
    readonly server: string,
    private readonly key: string | undefined,
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.key ? { authorization: `Bearer ${this.key}` } : {}), ...extra };
  }

  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body);
    const json = parse(await res.text());
    if (!res.ok) throw errorOf(res, json);
    return json as T;
  }

  /** A request whose successful body the caller reads as a stream (downloads); errors as call(). */
  async stream(method: string, path: string): Promise<Response> {
    const res = await this.send(method, path);
    if (!res.ok) throw errorOf(res, parse(await res.text()));
    return res;
  }

  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    try {
      return await fetch(this.server + path, {
        method,
        headers: this.headers(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      throw new ApiClientError(0, 'UNAVAILABLE', `cannot reach ${this.server}: ${(err as Error).message}`);
    }
  }
}

function parse(text: string): unknown {
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return { error: { message: text, status: 'UNKNOWN' } };
  }
}

/** The Google error body ({error: {status, message}}) as an ApiClientError. */
function errorOf(res: Response, json: unknown): ApiClientError {
  const e = (json as { error?: { status?: string; message?: string } }).error ?? {};
  return new ApiClientError(res.status, e.status ?? String(res.status), e.message ?? res.statusText);
}
