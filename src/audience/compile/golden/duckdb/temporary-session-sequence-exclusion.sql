-- sql parameters: ["view_item","purchase","add_to_cart","1n","1714608000000000n","1717977600000000n","1715385600000000n"]
WITH ev AS (SELECT user_pseudo_id AS u, ga_session_id AS s, event_timestamp AS t, ingest_seq AS q, ((CAST(event_timestamp AS HUGEINT) << 64) | ingest_seq) AS pos, event_name = $1 AS c1_h0, event_name = $2 AS c1_h1, event_name = $3 AS p0 FROM events WHERE property_id = $4 AND event_timestamp >= $5 AND event_timestamp <= $6 AND source <> 'audience_trigger'),
c1_s0 AS (SELECT *, CASE WHEN c1_h0 THEN t END AS b0 FROM ev WHERE (c1_h0 OR c1_h1)),
c1_s1 AS (SELECT *, CASE WHEN c1_h1 AND m1 IS NOT NULL THEN m1 END AS b1 FROM (SELECT *, max(b0) OVER (PARTITION BY u, s, CASE WHEN s IS NULL THEN q END ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS m1 FROM c1_s0)),
c1 AS (SELECT u, min(pos) AS f, max(pos) AS l FROM c1_s1 WHERE b1 IS NOT NULL GROUP BY u),
c1_sess AS (SELECT u AS c1_su, COALESCE(s, 0) AS c1_ks, CASE WHEN s IS NULL THEN q ELSE 0 END AS c1_kq, min(pos) AS c1_fs FROM c1_s1 WHERE b1 IS NOT NULL GROUP BY 1, 2, 3),
e1 AS (SELECT ev.*, bool_or(p0) OVER (PARTITION BY u ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS w1, c1.f AS w3, c1.l AS w4, c1_fs AS w5 FROM ev
LEFT JOIN c1 USING (u)
LEFT JOIN c1_sess ON c1_su = u AND c1_ks = COALESCE(s, 0) AND c1_kq = (CASE WHEN s IS NULL THEN q ELSE 0 END)),
e2 AS (SELECT *, COALESCE(lag(w1) OVER (PARTITION BY u ORDER BY t, q), FALSE) AS w2 FROM e1)
SELECT u FROM (SELECT u, max(pos) FILTER (WHERE (w1 AND (w1 AND ((NOT w2) OR p0)))) AS lq, max(pos) FILTER (WHERE (NOT w1)) AS lbad, arg_max(COALESCE(pos >= w5, FALSE), pos) AS x FROM e2 GROUP BY u)
WHERE lq IS NOT NULL AND (lbad IS NULL OR lbad < lq) AND CAST(lq >> 64 AS BIGINT) > $7 AND NOT x
ORDER BY u
