-- triggers parameters: ["sign_up","purchase","$.\"value\".\"i\"","$.\"value\".\"d\"","$.\"value\".\"s\"","[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?",20,"1n","1714608000000000n","1717977600000000n","604800000000n","1717200000000000n","7n"]
WITH ev AS (SELECT user_pseudo_id AS u, ga_session_id AS s, event_timestamp AS t, ingest_seq AS q, ((CAST(event_timestamp AS HUGEINT) << 64) | ingest_seq) AS pos, event_name = $1 AS c0_h0, CASE WHEN event_name = $2 THEN COALESCE((COALESCE(TRY_CAST(json_extract_string(event_params, $3) AS DOUBLE), TRY_CAST(json_extract_string(event_params, $4) AS DOUBLE), CASE WHEN regexp_full_match(json_extract_string(event_params, $5), $6) AND isfinite(TRY_CAST(json_extract_string(event_params, $5) AS DOUBLE)) THEN TRY_CAST(json_extract_string(event_params, $5) AS DOUBLE) END) > $7), FALSE) ELSE FALSE END AS c0_h1 FROM events WHERE property_id = $8 AND event_timestamp >= $9 AND event_timestamp <= $10 AND source <> 'audience_trigger'),
c0_s0 AS (SELECT *, CASE WHEN c0_h0 THEN t END AS b0 FROM ev WHERE (c0_h0 OR c0_h1)),
c0_s1 AS (SELECT *, CASE WHEN c0_h1 AND (m1 IS NOT NULL AND t - m1 <= $11) THEN m1 END AS b1 FROM (SELECT *, max(b0) OVER (PARTITION BY u ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS m1 FROM c0_s0)),
c0 AS (SELECT u, min(pos) AS f, max(pos) AS l FROM c0_s1 WHERE b1 IS NOT NULL GROUP BY u),
c0_done AS (SELECT u AS c0_du, pos AS c0_dpos FROM c0_s1 WHERE b1 IS NOT NULL),
e1 AS (SELECT ev.*, c0.f AS w0, c0.l AS w1, (c0_dpos IS NOT NULL) AS w2 FROM ev
LEFT JOIN c0 USING (u)
LEFT JOIN c0_done ON c0_du = u AND c0_dpos = pos),
e2 AS (SELECT *, max(CASE WHEN (COALESCE(pos >= w0, FALSE) AND w2) THEN pos END) OVER (PARTITION BY u ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS w3, max(CASE WHEN (NOT COALESCE(pos >= w0, FALSE)) THEN pos END) OVER (PARTITION BY u ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS w4 FROM e1)
SELECT u, q FROM e2 JOIN (SELECT 'u' AS nu, CAST(0 AS HUGEINT) AS npos) AS nf ON nf.nu = u AND pos >= nf.npos WHERE ((COALESCE(pos >= w0, FALSE) AND w2) AND t >= $12 AND NOT FALSE AND q > $13)
