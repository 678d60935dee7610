// The part of ua-parser-js 1.x (MIT; 2.x is AGPL, so audex stays on 1.x) that audex uses. The
// package ships no typings of its own.
declare module 'ua-parser-js' {
  interface UAResult {
    browser: { name?: string; version?: string };
    os: { name?: string; version?: string };
    device: { type?: string; vendor?: string; model?: string };
  }
  class UAParser {
    constructor(ua?: string);
    getResult(): UAResult;
  }
  export default UAParser;
}
