-- Block ids that occur more than once among the 2H rows of a range: conflicting rows for
-- one block (the primary key already forbids exact key duplicates).
SELECT bid, count(*) AS copies
FROM ovc.ovc_blocks_v01
WHERE block_type = '2H' AND block_start >= %(start)s AND block_start < %(end)s
GROUP BY bid
HAVING count(*) > 1
ORDER BY bid
