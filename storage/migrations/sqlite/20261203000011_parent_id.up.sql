-- parent_id: the id of the object the provider files a job under, when its
-- API needs it to find the job (an OpenAI eval run's eval id); '' for most.
ALTER TABLE jobs ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';
