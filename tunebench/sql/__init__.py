"""SQL, written once for every stage: the text-to-SQL prompt, reading a schema, parsing untrusted SQL
without raising, taking the SQL out of a model's answer, and running it read-only with time, row and
byte limits in a child process (the sandbox)."""
