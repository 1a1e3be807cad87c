import type { Migration } from './runner';

/**
 * `append_events(…)`: a whole group commit in one statement, so it costs one round trip
 * (PostgresEventStore calls it; docs/event-store.md, "Group commit"). It takes the append
 * lock, reads every stream's revision and every event id already stored (each statement
 * of a function gets a fresh snapshot under READ COMMITTED, so these reads see every
 * append committed before the lock was granted), decides each append in arrival order as
 * if they had come one by one, inserts what it accepted and rings `notify_channel`. It
 * refuses to run under another isolation level, whose snapshot would predate the lock.
 *
 * One row per append, in the order given: `result_outcome` is 'appended' (its last
 * revision and position), 'repeat' (every id was stored already: the stored last
 * revision and position) or 'conflict' (the stream's revision as decided so far, NULL
 * for no stream; nothing of that append is written).
 *
 * `append_expected`: the exact revision, -1 for "no stream", NULL for "any".
 * `append_pipelines`: the append's pipeline, numbered within the call (NULL: none); once
 * one append of a pipeline is refused or a repeat, the later ones of that pipeline are
 * refused. `append_refused`: refused before the call (its pipeline broke earlier).
 * `lock_wait_ms`: NULL waits for the append lock as long as it takes; a number makes the
 * call fail with lock_not_available (55P03), writing nothing, if the lock is not granted
 * within that many milliseconds.
 */
export const appendEventsFunction: Migration = {
  version: 13,
  name: 'append_events(): a group commit in one statement',
  async up(tx) {
    await tx.query(`
      CREATE FUNCTION append_events(
        append_streams text[],
        append_expected bigint[],
        append_counts integer[],
        append_pipelines integer[],
        append_refused boolean[],
        event_ids uuid[],
        event_types text[],
        event_data jsonb[],
        event_metadata jsonb[],
        notify_channel text,
        lock_wait_ms integer
      ) RETURNS TABLE (result_outcome text, result_revision bigint, result_position bigint)
      LANGUAGE plpgsql VOLATILE AS $fn$
      #variable_conflict error
      DECLARE
        appends integer := coalesce(cardinality(append_streams), 0);
        outcomes text[] := array_fill(NULL::text, ARRAY[appends]);
        revisions bigint[] := array_fill(NULL::bigint, ARRAY[appends]);
        positions bigint[] := array_fill(NULL::bigint, ARRAY[appends]);
        accepted_index integer[] := '{}';
        accepted_revision bigint[] := '{}';
        accepted_event integer[] := '{}';
        this_stream text := NULL;
        this_revision bigint;
        broken_pipelines integer[];
        written_ids uuid[];
        these_ids uuid[];
        a record;
        saved_lock_timeout text := current_setting('lock_timeout');
      BEGIN
        IF appends = 0 THEN
          RETURN;
        END IF;
        -- Under REPEATABLE READ or SERIALIZABLE the reads below would use the snapshot
        -- taken before the lock was granted, and miss the previous holder's rows.
        IF current_setting('transaction_isolation') <> 'read committed' THEN
          RAISE EXCEPTION 'append_events needs READ COMMITTED, not %', current_setting('transaction_isolation')
            USING ERRCODE = 'invalid_transaction_state';
        END IF;
        IF lock_wait_ms IS NOT NULL THEN
          PERFORM set_config('lock_timeout', greatest(lock_wait_ms, 1)::text || 'ms', true);
        END IF;
        -- The append lock, held until this transaction has committed: appending
        -- transactions never overlap (docs/event-store.md, "Ordering").
        PERFORM pg_advisory_xact_lock(hashtextextended('chat:append', 0));
        PERFORM set_config('lock_timeout', saved_lock_timeout, true);

        -- Streams one after the other, each stream's appends in arrival order: appends
        -- to different streams never affect each other's outcome.
        FOR a IN
          SELECT s.i, s.stream, s.expected, s.n, s.pipeline, s.refused, s.first_event,
                 (SELECT max(e.stream_revision) FROM events e WHERE e.stream_id = s.stream) AS stored_revision,
                 stored.found, stored.last_revision AS found_revision, stored.last_position AS found_position
            FROM (SELECT u.i::integer AS i, u.stream, u.expected, u.n, u.pipeline, u.refused,
                         (sum(u.n) OVER (ORDER BY u.i) - u.n)::integer AS first_event
                    FROM unnest(append_streams, append_expected, append_counts, append_pipelines, append_refused)
                         WITH ORDINALITY AS u(stream, expected, n, pipeline, refused, i)) s
            CROSS JOIN LATERAL (
              SELECT count(*)::integer AS found, max(e.stream_revision) AS last_revision, max(e.global_position) AS last_position
                FROM events e
               WHERE e.stream_id = s.stream AND e.event_id = ANY (event_ids[s.first_event + 1 : s.first_event + s.n])
            ) stored
           ORDER BY s.stream, s.i
        LOOP
          IF this_stream IS DISTINCT FROM a.stream THEN
            this_stream := a.stream;
            this_revision := a.stored_revision;
            broken_pipelines := '{}';
            written_ids := '{}';
          END IF;
          these_ids := event_ids[a.first_event + 1 : a.first_event + a.n];
          IF a.refused OR a.pipeline = ANY (broken_pipelines) THEN
            outcomes[a.i] := 'conflict';
            revisions[a.i] := this_revision;
          ELSIF a.found = a.n AND NOT (these_ids && written_ids) THEN
            -- A retry of an append that landed: the stream did not move as the appends
            -- behind it in its pipeline assumed.
            outcomes[a.i] := 'repeat';
            revisions[a.i] := a.found_revision;
            positions[a.i] := a.found_position;
            IF a.pipeline IS NOT NULL THEN broken_pipelines := broken_pipelines || a.pipeline; END IF;
          ELSIF a.found > 0 OR these_ids && written_ids
                OR NOT (CASE WHEN a.expected IS NULL THEN true
                             WHEN a.expected = -1 THEN this_revision IS NULL
                             ELSE this_revision IS NOT DISTINCT FROM a.expected END) THEN
            outcomes[a.i] := 'conflict';
            revisions[a.i] := this_revision;
            IF a.pipeline IS NOT NULL THEN broken_pipelines := broken_pipelines || a.pipeline; END IF;
          ELSE
            accepted_index := accepted_index || a.i;
            accepted_revision := accepted_revision || (coalesce(this_revision, -1) + 1);
            accepted_event := accepted_event || a.first_event;
            this_revision := coalesce(this_revision, -1) + a.n;
            outcomes[a.i] := 'appended';
            revisions[a.i] := this_revision;
            written_ids := written_ids || these_ids;
          END IF;
        END LOOP;

        IF cardinality(accepted_index) > 0 THEN
          PERFORM pg_notify(notify_channel, '');
        END IF;
        -- Positions are drawn in arrival order (ORDER BY), so within a stream they grow
        -- with the revision.
        RETURN QUERY
          WITH written AS (
            INSERT INTO events (stream_id, stream_revision, event_id, event_type, data, metadata)
            SELECT append_streams[acc.i], acc.first_revision + k, event_ids[acc.first_event + k + 1],
                   event_types[acc.first_event + k + 1], event_data[acc.first_event + k + 1], event_metadata[acc.first_event + k + 1]
              FROM unnest(accepted_index, accepted_revision, accepted_event) AS acc(i, first_revision, first_event)
              CROSS JOIN LATERAL generate_series(0, append_counts[acc.i] - 1) AS k
             ORDER BY acc.i, k
            RETURNING events.stream_id, events.stream_revision, events.global_position
          )
          SELECT o.outcome, o.revision, coalesce(w.global_position, o.stored_position)
            FROM unnest(outcomes, revisions, positions) WITH ORDINALITY AS o(outcome, revision, stored_position, i)
            LEFT JOIN written w
              ON o.outcome = 'appended' AND w.stream_id = append_streams[o.i::integer] AND w.stream_revision = o.revision
           ORDER BY o.i;
      END
      $fn$`);
  },
};
