"""The block spine: the `ovc_blocks` and `ovc_block_details` assets, their checks, schedule and sensors."""
