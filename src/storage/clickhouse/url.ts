// The events URL of the ClickHouse backend:
//   clickhouse://[user[:password]@]host:port[,host2:port…]/database[?cluster=NAME]
// over ClickHouse's HTTP interface (port 8123 by default). With `cluster`, the URL lists every
// shard's HTTP endpoint: audex creates the tables on each (no ON CLUSTER: Debian's 18.16 has no
// ZooKeeper) and queries go through the first.

export interface ClickHouseTarget {
  /** http://host:port of each node, in URL order. */
  nodes: string[];
  database: string;
  username: string;
  password: string;
  /** The remote_servers cluster the Distributed tables use; null for a single node. */
  cluster: string | null;
}

/** What the URL may name: plain identifiers only, since they become SQL text. */
const NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/;

export class EventsUrlError extends Error {
  override readonly name = 'EventsUrlError';
}

export function isClickHouseUrl(url: string): boolean {
  return url.startsWith('clickhouse://');
}

export function parseClickHouseUrl(url: string): ClickHouseTarget {
  const m = /^clickhouse:\/\/(?:([^@/]*)@)?([^/?#]+)\/([^/?#]*)(?:\?([^#]*))?$/.exec(url);
  if (!m)
    throw new EventsUrlError(
      'expected clickhouse://[user[:password]@]host:port[,host:port…]/database[?cluster=NAME]',
    );
  const [, auth, hosts, database, query] = m;
  let username = 'default';
  let password = '';
  if (auth !== undefined) {
    const i = auth.indexOf(':');
    username = decodeURIComponent(i < 0 ? auth : auth.slice(0, i));
    password = i < 0 ? '' : decodeURIComponent(auth.slice(i + 1));
  }
  const nodes = hosts!.split(',').map((h) => {
    const hp = HOST_PORT.exec(h);
    const port = hp?.[2] === undefined ? 8123 : Number(hp[2]);
    if (!hp || port < 1 || port > 65535) throw new EventsUrlError(`bad host:port ${JSON.stringify(h)}`);
    return `http://${hp[1]}:${port}`;
  });
  if (!NAME.test(database!))
    throw new EventsUrlError(
      `database ${JSON.stringify(database)} must be lower-case letters, digits and _ (at most 63)`,
    );
  const params = new URLSearchParams(query ?? '');
  for (const key of params.keys())
    if (key !== 'cluster') throw new EventsUrlError(`unknown URL parameter ${JSON.stringify(key)}`);
  const cluster = params.get('cluster');
  if (cluster !== null && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(cluster))
    throw new EventsUrlError(`cluster ${JSON.stringify(cluster)} must be letters, digits and _`);
  if (cluster === null && nodes.length > 1)
    throw new EventsUrlError('several hosts need ?cluster=NAME (the remote_servers cluster they form)');
  return { nodes, database: database!, username, password, cluster };
}

/** The URL without its password, for logs and errors. */
export function redactUrl(url: string): string {
  return url.replace(/^(clickhouse:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
}
