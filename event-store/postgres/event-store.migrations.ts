import type { Migration } from '../../platform/migrate.js';

// Appends are serialised by a transaction-level advisory lock held until commit, so global
// positions are handed out in commit order: a reader that asks for "after my last position"
// can never miss an event that commits later with a lower position. Group commit in the
// adapter keeps the lock's cost to one short transaction per batch of appends.
//
// Event ids are checked for an idempotent replay only where it can be one: when the revision
// check fails, and for 'any' / 'stream_exists'. A clash of ids across streams is left to the
// unique index; the adapter then retries the batch's appends one by one to isolate it.
const APPEND_BATCH = `
CREATE OR REPLACE FUNCTION oms_append_batch(appends jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
  a jsonb;
  results jsonb[] := '{}';
  stream text;
  expected text;
  current_rev bigint;
  n int;
  found_count int;
  found_rev bigint;
  found_pos bigint;
  last_pos bigint;
  batch_last bigint := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(7370001);
  FOR a IN SELECT * FROM jsonb_array_elements(appends) LOOP
    stream := a->>'stream';
    expected := a->>'expected';
    n := jsonb_array_length(a->'events');
    SELECT coalesce(max(stream_revision), -1) INTO current_rev FROM events WHERE stream_id = stream;
    IF expected IN ('any', 'stream_exists')
       OR (expected = 'no_stream' AND current_rev <> -1)
       OR (expected NOT IN ('any', 'no_stream', 'stream_exists') AND expected::bigint <> current_rev) THEN
      SELECT count(*), max(stream_revision), max(global_position) INTO found_count, found_rev, found_pos
        FROM events WHERE stream_id = stream
         AND event_id IN (SELECT (e->>'id')::uuid FROM jsonb_array_elements(a->'events') e);
      IF found_count = n THEN
        results := array_append(results, jsonb_build_object('ok', true, 'revision', found_rev, 'position', found_pos));
        CONTINUE;
      END IF;
      IF NOT (expected = 'any' OR (expected = 'stream_exists' AND current_rev <> -1)) THEN
        results := array_append(results, jsonb_build_object('ok', false, 'error', 'wrong_expected_revision', 'actual', current_rev));
        CONTINUE;
      END IF;
    END IF;
    WITH ins AS (
      INSERT INTO events (event_id, stream_id, stream_revision, type, data, metadata)
        SELECT (e->>'id')::uuid, stream, current_rev + ord, e->>'type', e->'data', e->'metadata'
          FROM jsonb_array_elements(a->'events') WITH ORDINALITY AS x(e, ord)
          ORDER BY ord
        RETURNING global_position
    ) SELECT max(global_position) INTO last_pos FROM ins;
    batch_last := last_pos;
    results := array_append(results, jsonb_build_object('ok', true, 'revision', current_rev + n, 'position', last_pos));
  END LOOP;
  IF batch_last > 0 THEN
    PERFORM pg_notify('oms_events_' || current_schema(), batch_last::text);
  END IF;
  RETURN to_jsonb(results);
END
$fn$;
`;

export const eventStoreMigrations: Migration[] = [
  {
    name: '001-events',
    async up(knex) {
      await knex.raw(`
        CREATE TABLE events (
          global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          event_id uuid NOT NULL UNIQUE,
          stream_id text NOT NULL,
          stream_revision bigint NOT NULL,
          type text NOT NULL,
          data jsonb NOT NULL,
          metadata jsonb NOT NULL,
          recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
          UNIQUE (stream_id, stream_revision)
        );
      `);
      await knex.raw(APPEND_BATCH);
      await knex.raw(`
        CREATE FUNCTION oms_events_immutable() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
          RAISE EXCEPTION 'events are immutable: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
        END
        $fn$;
        CREATE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON events
          FOR EACH ROW EXECUTE FUNCTION oms_events_immutable();
        CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
          FOR EACH STATEMENT EXECUTE FUNCTION oms_events_immutable();
      `);
    },
  },
];
