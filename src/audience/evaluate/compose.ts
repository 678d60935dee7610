// Composing one statement from safe fragments (src/audience/compile/sql.ts) and whole compiled
// audience queries. A compiled query is rendered text with numbered placeholders; to nest it, it is
// compiled again with a dialect whose placeholders start after the parameters already placed, so
// every value stays a bound parameter and no text ever comes from a user's string.

import type { AudienceDefinition } from '../../domain/audience.ts';
import {
  compileAudienceQuery,
  type AudiencePlan,
  type CompiledQuery,
  type QueryContext,
  type SqlDialect,
  type SqlValue,
} from '../compile/index.ts';
import { render, type Fragment } from '../compile/sql.ts';

export class QueryComposer {
  private text = '';
  private readonly parameters: SqlValue[] = [];

  constructor(private readonly dialect: SqlDialect) {}

  /** Appends a fragment of the SQL builder. */
  add(f: Fragment): this {
    const offset = this.parameters.length;
    const q = render(f, (i, v) => this.dialect.placeholder(offset + i, v));
    return this.append(q);
  }

  /** Appends an audience's compiled query (its members query, or its candidate events). */
  addAudience(def: AudienceDefinition, ctx: QueryContext, plan: AudiencePlan): this {
    const offset = this.parameters.length;
    const shifted: SqlDialect = {
      ...this.dialect,
      placeholder: (i, v) => this.dialect.placeholder(offset + i, v),
    };
    return this.append(compileAudienceQuery(def, ctx, shifted, plan).query);
  }

  build(): CompiledQuery {
    return Object.freeze({ sql: this.text, parameters: Object.freeze([...this.parameters]) });
  }

  private append(q: CompiledQuery): this {
    this.text += q.sql;
    this.parameters.push(...q.parameters);
    return this;
  }
}
