-- sql parameters: ["US","1n","1714608000000000n","1717977600000000n","1715385600000000n"]
SELECT u FROM (SELECT user_pseudo_id AS u, argMax(COALESCE((geo_country_id IN ('US')), 0), tuple(event_timestamp, ingest_seq)) AS a FROM events WHERE property_id = 1 AND event_timestamp >= 1714608000000000 AND event_timestamp <= 1717977600000000 AND source <> 'audience_trigger' AND event_timestamp > 1715385600000000 GROUP BY u) AS latest
WHERE a
ORDER BY u
