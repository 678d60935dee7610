// Expected process warnings, captured instead of printed. A test that knows some code path emits a
// warning (a fallback that reports itself, an experimental Node API) takes the matching warnings
// here and asserts them; any other warning still reaches Node's handler and the test output, where
// it means something unexpected happened.

export interface CapturedWarning {
  /** 'Warning', 'ExperimentalWarning', 'DeprecationWarning' or a library's own type. */
  name: string;
  code: string | undefined;
  message: string;
}

export interface WarningCapture {
  readonly warnings: CapturedWarning[];
  /** Resolves once `count` matching warnings arrived (they can come from background work). */
  until(count: number, timeoutMs?: number): Promise<CapturedWarning[]>;
  /** Puts process.emitWarning back; later matching warnings are printed as usual. */
  stop(): CapturedWarning[];
}

type EmitWarning = typeof process.emitWarning;

/** The type and code process.emitWarning would give the warning, whatever form it was called in. */
function describe(warning: string | Error, args: unknown[]): CapturedWarning {
  if (warning instanceof Error)
    return { name: warning.name, code: (warning as NodeJS.ErrnoException).code, message: warning.message };
  const [first, second] = args;
  if (typeof first === 'object' && first !== null) {
    const o = first as { type?: string; code?: string };
    return { name: o.type ?? 'Warning', code: o.code, message: warning };
  }
  return {
    name: typeof first === 'string' ? first : 'Warning',
    code: typeof second === 'string' ? second : undefined,
    message: warning,
  };
}

/**
 * Captures the warnings that `matches` accepts from now until stop(). Node's own warnings (e.g.
 * ExperimentalWarning) and libraries' go through process.emitWarning at call time, so replacing
 * it sees them all before Node's handler prints anything.
 */
export function captureWarnings(matches: (w: CapturedWarning) => boolean): WarningCapture {
  const original: EmitWarning = process.emitWarning.bind(process);
  const installed = Object.getOwnPropertyDescriptor(process, 'emitWarning')!;
  const warnings: CapturedWarning[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const replacement = function (this: unknown, warning: string | Error, ...args: unknown[]) {
    const w = describe(warning, args);
    if (!matches(w)) return (original as (...a: unknown[]) => void)(warning, ...args);
    warnings.push(w);
    for (const waiter of waiters.filter((x) => warnings.length >= x.count)) waiter.resolve();
  } as EmitWarning;
  process.emitWarning = replacement;
  return {
    warnings,
    until(count, timeoutMs = 10_000) {
      if (warnings.length >= count) return Promise.resolve(warnings);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`expected ${count} warning(s), got ${JSON.stringify(warnings)}`)),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(warnings);
          },
        });
      });
    },
    stop() {
      if (process.emitWarning === replacement) Object.defineProperty(process, 'emitWarning', installed);
      return warnings;
    },
  };
}
