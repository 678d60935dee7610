-- sql parameters: ["add_to_cart","begin_checkout","page_view","1n","1714608000000000n","1717977600000000n","add_to_cart","begin_checkout","page_view","3600000000n","1715385600000000n"]
WITH ev AS (SELECT user_pseudo_id AS u, ga_session_id AS s, event_timestamp AS t, ingest_seq AS q, ((CAST(event_timestamp AS HUGEINT) << 64) | ingest_seq) AS pos, event_name = $1 AS c0_h0, event_name = $2 AS c0_h1, event_name = $3 AS c1_g0_0 FROM events WHERE property_id = $4 AND event_timestamp >= $5 AND event_timestamp <= $6 AND source <> 'audience_trigger' AND (event_name = $7 OR event_name = $8 OR event_name = $9)),
pu AS (SELECT u, min(pos) FILTER (WHERE c1_g0_0) AS c1_g0_0_f, max(pos) FILTER (WHERE c1_g0_0) AS c1_g0_0_l FROM ev GROUP BY u),
cl AS (SELECT u, c1_g0_0_f AS c1_f, greatest(c1_f, c1_g0_0_l) AS c1_l FROM pu),
c0_s0 AS (SELECT *, CASE WHEN c0_h0 THEN t END AS b0 FROM ev WHERE (c0_h0 OR c0_h1)),
c0_s1 AS (SELECT *, CASE WHEN c0_h1 AND (m1 IS NOT NULL AND t - m1 <= $10) THEN m1 END AS b1 FROM (SELECT *, max(b0) OVER (PARTITION BY u, s, CASE WHEN s IS NULL THEN q END ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS m1 FROM c0_s0)),
c0 AS (SELECT u, min(pos) AS f, max(pos) AS l FROM c0_s1 WHERE b1 IS NOT NULL GROUP BY u)
SELECT u FROM cl
JOIN c0 USING (u)
WHERE c1_f IS NOT NULL AND CAST(greatest(CASE WHEN c0.l >= greatest(c0.f, c1_f) THEN c0.l END, CASE WHEN c1_l >= greatest(c0.f, c1_f) THEN c1_l END) >> 64 AS BIGINT) > $11
ORDER BY u
