-- sql parameters: ["purchase","1n","1714608000000000n","1717977600000000n","purchase","view_item","add_to_cart","1n","1714608000000000n","1717977600000000n","purchase","refund","1n","1714608000000000n","1717977600000000n","1717372800000000n"]
WITH ev AS (SELECT user_pseudo_id AS u, ga_session_id AS s, event_timestamp AS t, ingest_seq AS q, ((CAST(event_timestamp AS HUGEINT) << 64) | ingest_seq) AS pos, event_name = $1 AS c1_g0_0 FROM events WHERE property_id = $2 AND event_timestamp >= $3 AND event_timestamp <= $4 AND source <> 'audience_trigger' AND event_name = $5),
pu AS (SELECT u, min(pos) FILTER (WHERE c1_g0_0) AS c1_g0_0_f, max(pos) FILTER (WHERE c1_g0_0) AS c1_g0_0_l FROM ev GROUP BY u),
cl AS (SELECT u, c1_g0_0_f AS c1_f, greatest(c1_f, c1_g0_0_l) AS c1_l FROM pu),
c0_ev AS (SELECT user_pseudo_id AS u, ga_session_id AS s, event_timestamp AS t, ingest_seq AS q, ((CAST(event_timestamp AS HUGEINT) << 64) | ingest_seq) AS pos, event_name = $6 AS c0_h0, event_name = $7 AS c0_h1 FROM events WHERE property_id = $8 AND event_timestamp >= $9 AND event_timestamp <= $10 AND source <> 'audience_trigger'),
c0_s0 AS (SELECT *, CASE WHEN c0_h0 THEN t END AS b0 FROM c0_ev),
c0_s1 AS (SELECT *, CASE WHEN c0_h1 AND m1 IS NOT NULL THEN m1 END AS b1 FROM (SELECT *, lag(b0) OVER (PARTITION BY u ORDER BY t, q) AS m1 FROM c0_s0)),
c0 AS (SELECT u, min(pos) AS f, max(pos) AS l FROM c0_s1 WHERE b1 IS NOT NULL GROUP BY u),
c2_ev AS (SELECT user_pseudo_id AS u, ga_session_id AS s, event_timestamp AS t, ingest_seq AS q, ((CAST(event_timestamp AS HUGEINT) << 64) | ingest_seq) AS pos, event_name = $11 AS c2_h0, event_name = $12 AS c2_h1 FROM events WHERE property_id = $13 AND event_timestamp >= $14 AND event_timestamp <= $15 AND source <> 'audience_trigger'),
c2_s0 AS (SELECT *, CASE WHEN c2_h0 THEN t END AS b0 FROM c2_ev),
c2_s1 AS (SELECT *, CASE WHEN c2_h1 AND m1 IS NOT NULL THEN m1 END AS b1 FROM (SELECT *, lag(b0) OVER (PARTITION BY u ORDER BY t, q) AS m1 FROM c2_s0)),
c2 AS (SELECT u, min(pos) AS f, max(pos) AS l FROM c2_s1 WHERE b1 IS NOT NULL GROUP BY u)
SELECT u FROM cl
JOIN c0 USING (u)
ANTI JOIN (SELECT * FROM c2) AS x2 USING (u)
WHERE c1_f IS NOT NULL AND CAST(greatest(CASE WHEN c0.l >= greatest(c0.f, c1_f) THEN c0.l END, CASE WHEN c1_l >= greatest(c0.f, c1_f) THEN c1_l END) >> 64 AS BIGINT) > $16
ORDER BY u
