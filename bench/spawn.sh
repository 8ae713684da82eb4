#!/bin/sh
# Spawn throughput: COUNT (default 5000) runs of /bin/true through the local
# executor (2 at a time, like xargs -P2, and 64 at a time), versus xargs -P2
# spawning the same count, in the same run.
#   usage: bench/spawn.sh [COUNT]
. "$(dirname "$0")/common.sh"
COUNT=${1:-5000}
cc $DC_CFLAGS -o "$W/spawn" "$DC_TOP/bench/spawn.c" $DC_LIBS
t=$(python3 -c 'import time; print(time.time())')
seq "$COUNT" | xargs -P2 -n1 /bin/true
python3 -c "import time; d = time.time() - $t; print('xargs -P2:      $COUNT runs in %.3f s: %.0f runs/s' % (d, $COUNT / d))"
printf 'distcron P=2:   '; "$W/spawn" "$COUNT" 2
printf 'distcron P=64:  '; "$W/spawn" "$COUNT" 64
