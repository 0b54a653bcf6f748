-- A run's envelope and view, compressed, are about 2 and 1.7 kB: together past the 2 kB at which
-- Postgres moves a row's largest values out of line, so every commit wrote the envelope into the
-- TOAST table (a heap tuple and an index entry, and a dead tuple for the previous one) besides the
-- row. With storage main they stay in the row, compressed; only a row that does not fit in a page
-- still goes out of line. (Catalog only: rows written before keep their place until rewritten.)
alter table runs alter column envelope set storage main, alter column view set storage main;
