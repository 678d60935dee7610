-- sql parameters: ["1n","1714608000000000n","1717977600000000n","purchase","1715385600000000n"]
SELECT u FROM (SELECT DISTINCT user_pseudo_id AS u FROM events WHERE property_id = $1 AND event_timestamp >= $2 AND event_timestamp <= $3 AND source <> 'audience_trigger' AND (event_name = $4 AND event_timestamp > $5)) AS c0
ORDER BY u
