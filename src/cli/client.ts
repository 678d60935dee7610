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
    let res: Response;
    try {
      res = await fetch(this.server + path, {
        method,
        headers: this.headers(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      throw new ApiClientError(0, 'UNAVAILABLE', `cannot reach ${this.server}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let json: unknown = {};
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = { error: { message: text, status: 'UNKNOWN' } };
    }
    if (!res.ok) {
      const e = (json as { error?: { status?: string; message?: string } }).error ?? {};
      throw new ApiClientError(res.status, e.status ?? String(res.status), e.message ?? res.statusText);
    }
    return json as T;
  }
}
