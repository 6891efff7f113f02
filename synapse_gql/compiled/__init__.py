"""Compiled reads: a query answered by one SQL statement that builds its JSON in PostgreSQL.

The resolver path reads a tree level by level: one statement per level, then graphql-core
calls a resolver and completes a value for every field of every row (about 5 µs each, so
a page of 100 conversations of 100 messages costs a Python floor near 50 ms). For a query
made only of *data fields* (columns and lists of rows) this package writes the whole
answer as one ``SELECT json_build_object(...)``, as PostGraphile and Hasura do, and hands
the JSON back as the operation's data.

How a request goes (``execution.CompiledExecutionContext``, the schema's execution
context, overrides graphql-core's ``execute_collected_root_fields``; every Strawberry
extension, from the document cache to error masking, runs around it unchanged):

1. ``plan.PLANS`` answers, once per parsed operation, whether every field the operation
   can select has a SQL form (``compiler.compilable`` against ``registry``). Mutations,
   subscriptions, ``@defer``, unknown directives and any field of another type answer no.
2. ``compiler.Statement`` walks the fields the request's variables select (graphql-core's
   own field collection: fragments, aliases, ``@include``/``@skip``), decodes global IDs
   and cursors and checks page sizes with the resolvers' functions, and writes the SQL:
   a connection is a keyset page ``ORDER BY sort, id LIMIT n`` per parent (``LATERAL``),
   ``count(*)`` when ``totalCount`` is selected, ``EXISTS (... OFFSET n)`` when a
   ``has*Page`` needs it; scalars are formatted as the GraphQL layer serializes them
   (``sql``). Values are always bound parameters.
3. The statement runs on the request's read connection (``context.reads``); the JSON text
   is decoded once and returned as the data.

Whenever the resolvers would answer otherwise the request simply takes them: an anonymous
caller, ``SYNAPSE_COMPILED_READS=false``, an argument their functions refuse (their error,
exactly), a filter the compiler does not handle, or a database error.

Authorization is the resolvers' own: ``access`` compiles the membership selects of
``conversations.access`` and ``usage.filters`` into the statement, with the viewer's id
as a parameter.
"""
