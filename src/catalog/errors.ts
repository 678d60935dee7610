// Errors of opening the catalog, in a module of their own so the CLI can recognise them without
// loading the database drivers.

/** A catalog that cannot be opened: the message is one line an operator can act on. */
export class CatalogOpenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CatalogOpenError';
  }
}
