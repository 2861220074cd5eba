-- Profiling output is a file write.
PRAGMA enable_profiling = 'json';
PRAGMA profile_output = '{outside_dir}/profile.json';
SELECT 1
