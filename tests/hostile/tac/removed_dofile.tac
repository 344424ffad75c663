-- attack: dofile() with no argument reads a chunk from stdin; with a path, runs any file.
-- contained: dofile is not a global; exit 1.
-- expect: exit=1 error="unknown global 'dofile'"
return dofile()
