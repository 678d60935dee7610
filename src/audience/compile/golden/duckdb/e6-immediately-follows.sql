-- sql parameters: ["view_item","add_to_cart","1n","1714608000000000n","1717977600000000n","1717371000000000n","1717372800000000n","1800000000n"]
WITH c0_ev AS (SELECT user_pseudo_id AS u, ga_session_id AS s, event_timestamp AS t, ingest_seq AS q, event_name = $1 AS c0_h0, event_name = $2 AS c0_h1 FROM events WHERE property_id = $3 AND event_timestamp >= $4 AND event_timestamp <= $5 AND source <> 'audience_trigger' AND event_timestamp > $6),
c0_cand AS (SELECT u, s, t, q FROM c0_ev WHERE c0_h1 AND t > $7),
c0_pred AS (SELECT c.u AS u, c.s AS s, c.t AS t, arg_max_null(e.c0_h0, ((CAST(e.t AS HUGEINT) << 64) | e.q)) AS ph, arg_max_null(e.s, ((CAST(e.t AS HUGEINT) << 64) | e.q)) AS ps, arg_max_null(e.t, ((CAST(e.t AS HUGEINT) << 64) | e.q)) AS pt FROM c0_cand AS c JOIN c0_ev AS e ON e.u = c.u AND e.t >= c.t - $8 AND (e.t < c.t OR (e.t = c.t AND e.q < c.q)) GROUP BY c.u, c.s, c.t, c.q)
SELECT u FROM (SELECT DISTINCT u FROM c0_pred WHERE COALESCE(ph, FALSE)) AS c0
ORDER BY u
