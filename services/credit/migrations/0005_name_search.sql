-- Issue 11: the name search lives in Postgres instead of each process's memory (at 1M entities the
-- in-memory index held 600-780 MB per process). One row per indexed name of an entity, with the
-- parts the scoring compares (so a candidate is never analysed again) and its core's character
-- bigrams under a GIN index; `name_search_grams` counts the names holding each bigram (the query
-- selects by its rare bigrams), `name_search_state` where the refresh got to. Natural persons are
-- not searched by name and have no rows. Written only by the name-search refresher
-- (services/credit/adapters/search.py), which re-reads the entities changed since `horizon`.
CREATE TABLE name_search (
    entity_id      text     NOT NULL,
    seq            smallint NOT NULL,        -- the name's place among the entity's names
    version        integer  NOT NULL,        -- entities.version these rows were indexed from
    credit_code    text,
    registered     text,                     -- the entity's registered name, what a result shows
    name           text     NOT NULL,
    name_kind      text     NOT NULL,
    normalised     text     NOT NULL,
    core           text     NOT NULL,
    prefixes       text[]   NOT NULL,
    bracket_region text,
    suffix         text,
    grams          text[]   NOT NULL,
    PRIMARY KEY (entity_id, seq)
);
CREATE INDEX name_search_grams_gin ON name_search USING gin (grams);

CREATE TABLE name_search_grams (
    gram  text    PRIMARY KEY,
    names integer NOT NULL                   -- how many rows of name_search hold it
);

CREATE TABLE name_search_state (
    singleton boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    horizon   timestamptz,                   -- entities changed at or after it may not be indexed yet
    entities  integer     NOT NULL DEFAULT 0 -- entities with rows in name_search
);
INSERT INTO name_search_state DEFAULT VALUES;
