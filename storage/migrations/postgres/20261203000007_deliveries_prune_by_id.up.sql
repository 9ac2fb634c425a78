-- The delivery log is pruned in id order (see Store.PruneDeliveries), so
-- the index on receipt time, one more tree each webhook wrote, goes.
DROP INDEX IF EXISTS deliveries_received_at_idx;
