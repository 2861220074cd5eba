-- SQL in a serialized syntax tree.
SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT content FROM read_text(''{secret_file}'')'))
