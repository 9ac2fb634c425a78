-- The check of the batch write (storage/write.go): a batch that read its
-- jobs without locking them updates each only if it is still the version it
-- read, and fails whole, as a serialization failure that the writer retries
-- with locks, when any was not.
CREATE OR REPLACE FUNCTION jobwatch_check_unchanged(expected integer, updated bigint) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN IF updated <> expected THEN RAISE EXCEPTION 'jobwatch: % of % jobs changed since the batch read them', expected - updated, expected USING ERRCODE = 'serialization_failure'; END IF; RETURN true; END $$;
