import type { Migration } from '../../platform/migrate.js';

// Appends are serialised by a transaction-level advisory lock held until commit, so global
// positions are handed out in commit order: a reader that asks for "after my last position"
// can never miss an event that commits later with a lower position. Group commit in the
// adapter keeps the lock's cost to one short transaction per batch of appends.
const APPEND_BATCH = `
CREATE OR REPLACE FUNCTION oms_append_batch(appends jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
  a jsonb;
  results jsonb := '[]'::jsonb;
  ids uuid[];
  n int;
  current_rev bigint;
  expected text;
  found_count int;
  found_rev bigint;
  found_pos bigint;
  found_stream text;
  last_pos bigint;
  batch_last bigint := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(7370001);
  FOR a IN SELECT * FROM jsonb_array_elements(appends) LOOP
    n := jsonb_array_length(a->'events');
    SELECT array_agg((e->>'id')::uuid) INTO ids FROM jsonb_array_elements(a->'events') e;
    SELECT count(*), max(stream_revision), max(global_position), min(stream_id)
      INTO found_count, found_rev, found_pos, found_stream
      FROM events WHERE event_id = ANY(ids);
    IF found_count > 0 THEN
      IF found_count = n AND found_stream = a->>'stream' THEN
        results := results || jsonb_build_object('ok', true, 'revision', found_rev, 'position', found_pos, 'replayed', true);
      ELSE
        results := results || jsonb_build_object('ok', false, 'error', 'duplicate_event_id');
      END IF;
      CONTINUE;
    END IF;
    SELECT revision INTO current_rev FROM streams WHERE stream_id = a->>'stream';
    IF NOT FOUND THEN current_rev := -1; END IF;
    expected := a->>'expected';
    IF (expected = 'no_stream' AND current_rev <> -1)
       OR (expected = 'stream_exists' AND current_rev = -1)
       OR (expected NOT IN ('any', 'no_stream', 'stream_exists') AND expected::bigint <> current_rev) THEN
      results := results || jsonb_build_object('ok', false, 'error', 'wrong_expected_revision', 'actual', current_rev);
      CONTINUE;
    END IF;
    INSERT INTO events (event_id, stream_id, stream_revision, type, data, metadata)
      SELECT (e->>'id')::uuid, a->>'stream', current_rev + ord, e->>'type', e->'data', e->'metadata'
        FROM jsonb_array_elements(a->'events') WITH ORDINALITY AS x(e, ord)
        ORDER BY ord;
    last_pos := currval(pg_get_serial_sequence('events', 'global_position'));
    INSERT INTO streams (stream_id, revision) VALUES (a->>'stream', current_rev + n)
      ON CONFLICT (stream_id) DO UPDATE SET revision = excluded.revision;
    batch_last := last_pos;
    results := results || jsonb_build_object('ok', true, 'revision', current_rev + n, 'position', last_pos);
  END LOOP;
  IF batch_last > 0 THEN
    PERFORM pg_notify('oms_events_' || current_schema(), batch_last::text);
  END IF;
  RETURN results;
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
        CREATE TABLE streams (
          stream_id text PRIMARY KEY,
          revision bigint NOT NULL
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
