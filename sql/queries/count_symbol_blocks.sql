-- How many 2H blocks of one symbol start in a range.
SELECT count(*)
FROM ovc.ovc_blocks_v01
WHERE block_type = %(block_type)s AND schema_ver = %(schema_ver)s AND symbol = %(symbol)s
  AND block_start >= %(start)s AND block_start < %(end)s
