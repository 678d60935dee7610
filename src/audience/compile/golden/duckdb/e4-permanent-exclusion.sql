-- sql parameters: ["1n","1714608000000000n","1717977600000000n","add_to_cart","1715385600000000n","1n","1714608000000000n","1717977600000000n","purchase"]
SELECT u FROM (SELECT DISTINCT user_pseudo_id AS u FROM events WHERE property_id = $1 AND event_timestamp >= $2 AND event_timestamp <= $3 AND source <> 'audience_trigger' AND (event_name = $4 AND event_timestamp > $5)) AS c0
ANTI JOIN (SELECT user_pseudo_id AS u FROM events WHERE property_id = $6 AND event_timestamp >= $7 AND event_timestamp <= $8 AND source <> 'audience_trigger' AND event_name = $9) AS c1 USING (u)
ORDER BY u
