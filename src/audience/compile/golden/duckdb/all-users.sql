-- sql parameters: ["1n","1714608000000000n","1717977600000000n",0,"1671321600000000n"]
SELECT u FROM (SELECT DISTINCT user_pseudo_id AS u FROM events WHERE property_id = $1 AND event_timestamp >= $2 AND event_timestamp <= $3 AND source <> 'audience_trigger' AND (COALESCE((1 > $4), FALSE) AND event_timestamp > $5)) AS c0
ORDER BY u
