-- Issue 11: candidates are selected from a posting table (bigram, name slot) read by index-only
-- scans instead of a GIN index over each row's bigram array: at 1M entities a query's rare
-- bigrams hold ~3,000 names, and re-checking them in the 370 MB table took 20+ ms a query. The
-- rows are derived data: emptied here, the refresher indexes every entity again.
DROP INDEX name_search_grams_gin;
TRUNCATE name_search, name_search_grams;
UPDATE name_search_state SET horizon = NULL, entities = 0;
ALTER TABLE name_search DROP COLUMN grams;
ALTER TABLE name_search ADD COLUMN slot integer GENERATED ALWAYS AS IDENTITY;
ALTER TABLE name_search ADD CONSTRAINT name_search_slot_key UNIQUE (slot);

CREATE TABLE name_search_postings (
    gram text    NOT NULL,
    slot integer NOT NULL,                   -- name_search.slot of a name whose core holds the bigram
    PRIMARY KEY (gram, slot)
);
